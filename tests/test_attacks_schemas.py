"""Attacks on what the server compiles and parses: schema bombs and malformed shapes.

Each one gets a 400 naming the limit it broke, at once; `/healthz` keeps answering
meanwhile; the server answers a plain request afterwards.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from attacks import HealthWatch, PeakMemory
from conftest import LOCATION, MODEL, PROJECT, Server


def dag_of_refs(levels: int) -> dict[str, Any]:
    """Two refs per level: 2**levels leaves once inlined, from a schema of a few KiB."""
    defs: dict[str, Any] = {
        f"d{i}": {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/d{i + 1}"}, "b": {"$ref": f"#/$defs/d{i + 1}"}},
        }
        for i in range(levels)
    }
    defs[f"d{levels}"] = {"type": "string"}
    return {"type": "object", "properties": {"x": {"$ref": "#/$defs/d0"}}, "$defs": defs}


def back_to_root(properties: int) -> dict[str, Any]:
    """Every property is the whole schema again: k**3 nodes at three levels of recursion."""
    return {"type": "object", "properties": {f"p{i}": {"$ref": "#"} for i in range(properties)}}


def nested_items(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return {"type": "object", "properties": {"x": schema}}


DRAFT4_ENUM = {  # draft-04 checks an enum's items pairwise for uniqueness
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {"x": {"enum": [{"a": i} for i in range(2400)]}},
}

BOMBS = {
    "dag of refs": dag_of_refs(40),
    "back to the root": back_to_root(40),
    "enum of objects": DRAFT4_ENUM,
    "items 180 deep": nested_items(180),
}


def chat(server: Server, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{server.vertex_base}/chat/completions",
        json={"model": MODEL, "max_tokens": 4, **body},
        timeout=60,
    )


def refused(reply: httpx.Response, *words: str) -> None:
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    for word in words:
        assert word in error["message"], error["message"]


def still_answers(server: Server) -> None:
    reply = chat(server, {"messages": [{"role": "user", "content": "Hi"}]})
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("name", BOMBS)
def test_schema_bombs_are_refused_at_once(server: Server, name: str) -> None:
    """As a response_format, as a tool's parameters and on the native wire alike."""
    schema = BOMBS[name]
    user = [{"role": "user", "content": "Fill it in."}]
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    tool = {"type": "function", "function": {"name": "f", "parameters": schema}}
    native = (
        f"{server.url}/v1/projects/{PROJECT}/locations/{LOCATION}"
        "/publishers/google/models/gemini-2.0-flash:generateContent"
    )
    with HealthWatch(server.url) as watch, PeakMemory(server.process.pid) as memory:
        for _ in range(3):
            refused(chat(server, {"messages": user, "response_format": response_format}))
            refused(chat(server, {"messages": user, "tools": [tool]}))
            config = {"responseMimeType": "application/json", "responseJsonSchema": schema}
            body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
            refused(httpx.post(native, json={**body, "generationConfig": config}, timeout=60))
    watch.assert_responsive()
    assert memory.grown_mib < 64, f"{memory.grown_mib:.0f} MiB"  # nothing was expanded
    still_answers(server)


def test_the_budget_is_per_request(server: Server) -> None:
    """Many tools that each fit, but not together."""
    one = dag_of_refs(6)  # fine alone
    tools = [
        {"type": "function", "function": {"name": f"f{i}", "parameters": one}} for i in range(40)
    ]
    reply = chat(server, {"messages": [{"role": "user", "content": "Hi"}], "tools": tools})
    refused(reply, "5000")
    assert reply.json()["error"]["param"].startswith("tools[")


def test_a_fair_recursive_schema_still_works(server: Server) -> None:
    tree = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#"}},
        },
        "required": ["name"],
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "tree", "schema": tree}}
    reply = chat(
        server,
        {
            "messages": [{"role": "user", "content": "A family tree."}],
            "response_format": response_format,
            "max_tokens": 64,
        },
    )
    assert reply.status_code == 200, reply.text


def deep_arguments(depth: int) -> str:
    return '{"a": ' + "[" * depth + "]" * depth + "}"


MALFORMED_ARGUMENTS = {
    "100,000 deep": deep_arguments(100_000),
    "65 deep": deep_arguments(65),
    "5,000-digit integer": '{"a": ' + "7" * 5000 + "}",
    "NaN": '{"a": NaN}',
}


@pytest.mark.parametrize("name", MALFORMED_ARGUMENTS)
def test_malformed_call_arguments_are_refused(server: Server, name: str) -> None:
    """In a tool call and in a legacy function_call, as an earlier assistant turn."""
    arguments = MALFORMED_ARGUMENTS[name]
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}]
    modern = [
        {"role": "user", "content": "Call f."},
        {"role": "assistant", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]
    legacy = [
        {"role": "user", "content": "Call f."},
        {"role": "assistant", "function_call": {"name": "f", "arguments": arguments}},
        {"role": "function", "name": "f", "content": "done"},
    ]
    with HealthWatch(server.url) as watch:
        reply = chat(server, {"messages": modern, "tools": [tool]})
        refused(reply, "Function arguments")
        assert reply.json()["error"]["param"] == "messages[1].tool_calls[0].function.arguments"
        functions = [tool["function"]]
        reply = chat(server, {"messages": legacy, "functions": functions})
        refused(reply, "Function arguments")
        assert reply.json()["error"]["param"] == "messages[1].function_call.arguments"
    watch.assert_responsive()
    still_answers(server)


def test_a_body_nested_past_the_parser_is_refused(server: Server) -> None:
    body = '{"model": "x", "messages": ' + "[" * 10_000 + "]" * 10_000 + "}"
    reply = httpx.post(
        f"{server.vertex_base}/chat/completions",
        content=body,
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert reply.status_code == 400, reply.text
    json.loads(reply.text)  # the envelope, not a traceback
