"""Vertex's documentation examples, run as a user runs them: only the host is changed.

They authenticate as those examples do, with `google.auth.default()` finding the key
file that `openvertex serve` wrote on first start.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

DOCS_CLIENT = """
import google.auth
import google.auth.transport.requests
import openai

project_id = "openvertex-local"
location = "us-central1"

credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
credentials.refresh(google.auth.transport.requests.Request())

client = openai.OpenAI(
    base_url=f"{HOST}/v1/projects/{project_id}/locations/{location}/endpoints/openapi",
    api_key=credentials.token,
)
"""


def run_snippet(server, code: str) -> str:
    script = DOCS_CLIENT.replace("{HOST}", server.url) + textwrap.dedent(code)
    env = {**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": str(server.default_key_file)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_basic_chat_snippet(auth_server):
    out = run_snippet(
        auth_server,
        """
        response = client.chat.completions.create(
            model="google/gemini-2.0-flash-001",
            messages=[
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Explain to me how AI works"},
            ],
        )
        print(response.choices[0].message)
        """,
    )
    assert re.match(r"ChatCompletionMessage\(content=(['\"]).{40,}\1, refusal=None", out)
    assert "role='assistant'" in out


def test_thinking_snippet(auth_server):
    out = run_snippet(
        auth_server,
        """
        response = client.chat.completions.create(
            model="google/gemini-2.5-flash",
            reasoning_effort="low",
            messages=[
                {"role": "system", "content": "You are a helpful assistant."},
                {
                    "role": "user",
                    "content": "Explain to me how AI works"
                }
            ]
        )
        print(response.choices[0].message)
        """,
    )
    # Thoughts stay hidden (no include_thoughts): the content is the answer alone.
    assert re.match(r"ChatCompletionMessage\(content=(['\"]).{20,}\1, refusal=None", out)
    assert "<think>" not in out


def test_streaming_snippet(auth_server):
    out = run_snippet(
        auth_server,
        """
        response = client.chat.completions.create(
            model="google/gemini-2.0-flash-001",
            messages=[
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Explain to me how AI works"},
            ],
            stream=True,
        )
        for chunk in response:
            print(chunk.choices[0].delta)
        """,
    )
    deltas = out.strip().splitlines()
    contents = [re.search(r"content=(None|'[^']*'|\"[^\"]*\")", d).group(1) for d in deltas]
    assert "role='assistant'" in deltas[0] and contents[0] == "''"
    assert len(contents[1:-1]) >= 10 and all(len(c) > 2 for c in contents[1:-1])
    assert contents[-1] == "None"


def test_structured_output_snippet(auth_server):
    out = run_snippet(
        auth_server,
        """
        from pydantic import BaseModel

        class CalendarEvent(BaseModel):
            name: str
            date: str
            participants: list[str]

        completion = client.beta.chat.completions.parse(
            model="google/gemini-2.0-flash",
            messages=[
                {"role": "system", "content": "Extract the event information."},
                {"role": "user", "content": "John and Susan are going to an AI conference on Friday."},
            ],
            response_format=CalendarEvent,
        )
        print(completion.choices[0].message.parsed)
        """,
    )
    assert re.fullmatch(r"name=.+ date=.+ participants=\[.*\]", out.strip()), out


GENAI_SNIPPET = """
from google import genai
from google.genai import types

client = genai.Client(
    vertexai=True,
    project="openvertex-local",
    location="us-central1",
    http_options=types.HttpOptions(base_url="{HOST}"),
)
response = client.models.generate_content(
    model="gemini-2.0-flash-001",
    contents="Explain to me how AI works",
    config=types.GenerateContentConfig(system_instruction="You are a helpful assistant."),
)
print(response.text)
"""


def test_readme_genai_snippet(auth_server):
    """Vertex's first example rewritten for google-genai, as the README gives it."""
    script = GENAI_SNIPPET.replace("{HOST}", auth_server.url)
    env = {**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": str(auth_server.default_key_file)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip()) > 40
