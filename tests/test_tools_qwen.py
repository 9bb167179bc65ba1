"""Function calling on the flash tier, Qwen2.5-Coder-0.5B-Instruct (installed from weights.txt).

SmolLM2 was not trained to call tools and answers the documentation example's `auto` request in
text; Qwen was, so Vertex's function-calling example runs against a server
whose `gemini-2.0-flash` is Qwen (conftest's `qwen_server`), unchanged but for the host.
"""

from __future__ import annotations

import json
import re

import openai
from conftest import Server
from test_auth_refusals import google_token
from test_tools import PROMPTS, SCHEMAS, TOOLS
from test_vertex_doc_examples import run_snippet

DOCS_TOOLS = """
tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. Chicago, IL",
                    },
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["location"],
            },
        }
    }
]
messages = [{"role": "user", "content": "What's the weather like in Chicago today?"}]
response = client.chat.completions.create(
    model="google/gemini-2.0-flash",
    messages=messages,
    tools=tools,
    tool_choice="auto"
)
print(response)
"""


def test_docs_function_calling_example(qwen_server: Server) -> None:
    """In `auto` mode the model may answer in words (about 1 run in 15 here, unseeded at
    temperature 1.0), so the snippet gets three runs; any call must be right."""
    outs = [run_snippet(qwen_server, DOCS_TOOLS) for _ in range(3)]
    calls = [
        re.search(r"Function\(arguments='(\{.*?\})', name='get_weather'\)", out) for out in outs
    ]
    assert any(calls), outs
    for out, call in zip(outs, calls, strict=True):
        if call:
            assert "finish_reason='tool_calls'" in out, out
            assert "Chicago" in json.loads(call.group(1))["location"]


def test_auto_mode_calls_the_right_function(qwen_server: Server) -> None:
    client = openai.OpenAI(
        base_url=f"{qwen_server.url}/v1",
        api_key=google_token(qwen_server.default_key_file),
        max_retries=0,
        timeout=300,
    )
    picked = {}
    for prompt in (PROMPTS[1], PROMPTS[5], PROMPTS[11]):  # weather, order, event
        reply = client.chat.completions.create(
            model="gemini-2.0-flash", messages=[{"role": "user", "content": prompt}], tools=TOOLS
        )
        for call in reply.choices[0].message.tool_calls or []:
            picked[prompt] = call.function.name
            assert json.loads(call.function.arguments) is not None
    assert picked, "no call on any prompt"
    assert set(picked.values()) <= set(SCHEMAS)
