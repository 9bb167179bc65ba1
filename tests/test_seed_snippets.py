"""The seed document's snippets, run as a user runs them, only `base_url` changed.

Until authentication lands, `api_key` is any string.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from conftest import LOCATION, PROJECT


def run_snippet(server, code: str) -> str:
    prelude = f"""
        import openai
        project_id, location = {PROJECT!r}, {LOCATION!r}
        client = openai.OpenAI(
            base_url=f"{server.url}/v1/projects/{{project_id}}/locations/{{location}}/endpoints/openapi",
            api_key="not-checked-yet",
        )
    """
    script = textwrap.dedent(prelude) + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_basic_chat_snippet(server):
    out = run_snippet(
        server,
        """
        response = client.chat.completions.create(
            model="google/gemini-2.0-flash-001",
            messages=[
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Explain to me how AI works"},
            ],
            max_tokens=64,
        )
        print(response.choices[0].message)
        """,
    )
    assert re.match(r"ChatCompletionMessage\(content=(['\"]).{40,}\1, refusal=None", out)
    assert "role='assistant'" in out


def test_streaming_snippet(server):
    out = run_snippet(
        server,
        """
        response = client.chat.completions.create(
            model="google/gemini-2.0-flash-001",
            messages=[
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Explain to me how AI works"},
            ],
            stream=True,
            max_tokens=32,
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
