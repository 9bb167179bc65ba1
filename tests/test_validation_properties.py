"""Property tests for request validation, in process: whatever a client sends is
either accepted or refused with a 4xx, never an unexpected exception (a 500).

The chat route runs `ChatCompletionRequest.model_validate_json` then
`to_generation_request`, and the engine compiles the request's intent before any
quota or slot; a refusal must be a pydantic `ValidationError` (turned
into a 400 by the error handler, whose message builder must not fail either) or
one of our own 4xx errors.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from openvertex.api.error_handlers import _validation_message
from openvertex.api.openai.request import ChatCompletionRequest, to_generation_request
from openvertex.core.reasoning import DEFAULT_EFFORT_BUDGETS, with_budget
from openvertex.engines.constraints.output import reply_grammar
from openvertex.errors import OpenVertexError

PROPERTIES = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)

# JSON Schemas as clients write them for tools and response_format, odd ones included.
json_schemas = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(
                ["string", "integer", "number", "boolean", "null", "object", "array", "foo"]
            )
            | st.lists(st.sampled_from(["string", "integer", "null"]), max_size=3),
            "enum": st.lists(scalars, max_size=3),
            "const": scalars,
            "minimum": st.integers(-5, 5) | st.floats(-5, 5),
            "maximum": st.integers(-5, 5),
            "minLength": st.integers(-1, 5),
            "maxLength": st.integers(-1, 5),
            "pattern": st.sampled_from(["^a+$", "[", "\\d{2}", ".*"]),
            "format": st.sampled_from(["date-time", "email", "uuid", "nope"]),
            "required": st.lists(st.text(max_size=5), max_size=3),
            "additionalProperties": st.booleans(),
        },
    ),
    lambda inner: st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["object", "array"]),
            "properties": st.dictionaries(st.text(max_size=6), inner, max_size=3),
            "items": inner,
            "anyOf": st.lists(inner, max_size=3),
            "$ref": st.sampled_from(["#", "#/$defs/a", "#/nowhere", "http://example.com/x"]),
            "$defs": st.dictionaries(st.just("a"), inner, max_size=1),
            "minItems": st.integers(-1, 4),
            "maxItems": st.integers(-1, 4),
            "required": st.lists(st.text(max_size=5), max_size=3),
        },
    ),
    max_leaves=12,
)

names = st.sampled_from(["get_weather", "lookup", "x"])
call_ids = st.sampled_from(["call_1", "call_2"])
arguments = st.sampled_from(['{"a": 1}', "{}", '{"city": "Paris"}', "[]"])
called = st.fixed_dictionaries({"name": names, "arguments": arguments})
text_part = st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=20)})
image_part = st.fixed_dictionaries(
    {"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": st.text()})}
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "developer", "user", "tool", "function"]),
            "content": st.text(max_size=40)
            | st.lists(text_part, max_size=3)
            | st.lists(image_part),
        },
        optional={"name": names, "tool_call_id": call_ids},
    )
    | st.fixed_dictionaries(
        {"role": st.just("assistant")},
        optional={
            "content": st.text(max_size=40) | st.none(),
            "tool_calls": st.lists(
                st.fixed_dictionaries({"id": call_ids, "function": called}), max_size=2
            ),
            "function_call": called,
        },
    ),
    min_size=1,
    max_size=4,
)
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city"],
}
function_specs = st.fixed_dictionaries(
    {"name": names},
    optional={
        "description": st.text(max_size=20),
        "parameters": st.just(WEATHER) | json_schemas,
        "strict": st.booleans(),
    },
)
google = st.fixed_dictionaries(
    {},
    optional={
        "thinking_config": st.fixed_dictionaries(
            {},
            optional={
                "thinking_budget": st.integers(-1, 2**31 - 1),
                "include_thoughts": st.booleans(),
            },
        ),
        "thought_tag_marker": st.sampled_from(["thought", "think:1"]),
    },
)

# Well-typed values for each optional field, to get past pydantic into the deeper checks.
OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "max_tokens": st.integers(1, 2**31 - 1),
    "max_completion_tokens": st.integers(1, 2**31 - 1),
    "temperature": st.floats(0, 2),
    "top_p": st.floats(0, 1),
    "n": st.integers(1, 8),
    "stop": st.text(min_size=1, max_size=5)
    | st.lists(st.text(min_size=1, max_size=5), max_size=16),
    "seed": st.integers(),
    "presence_penalty": st.floats(-2, 2),
    "frequency_penalty": st.floats(-2, 2),
    "logprobs": st.booleans(),
    "stream": st.booleans(),
    "stream_options": st.fixed_dictionaries({}, optional={"include_usage": st.booleans()}),
    "response_format": st.fixed_dictionaries({"type": st.sampled_from(["text", "json_object"])})
    | st.fixed_dictionaries(
        {
            "type": st.just("json_schema"),
            "json_schema": st.fixed_dictionaries(
                {"name": names},
                optional={"schema": st.just(WEATHER) | json_schemas, "strict": st.booleans()},
            ),
        }
    ),
    "reasoning_effort": st.sampled_from(["none", "minimal", "low", "medium", "high", "max", ""]),
    "tools": st.lists(
        st.fixed_dictionaries({"type": st.just("function"), "function": function_specs}),
        max_size=3,
        unique_by=lambda tool: tool["function"]["name"],
    ),
    "tool_choice": st.sampled_from(["none", "auto", "required"])
    | st.fixed_dictionaries(
        {"type": st.just("function"), "function": st.fixed_dictionaries({"name": names})}
    ),
    "parallel_tool_calls": st.booleans(),
    "functions": st.lists(function_specs, max_size=3, unique_by=lambda spec: spec["name"]),
    "function_call": st.sampled_from(["none", "auto"]) | st.fixed_dictionaries({"name": names}),
    "google": google,
    "extra_body": st.fixed_dictionaries({}, optional={"google": google}),
}
valid_shaped = st.fixed_dictionaries(
    {"model": st.just("google/gemini-2.0-flash-001"), "messages": messages}, optional=OPTIONAL
)
FIELDS = ["model", "messages", *OPTIONAL]


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A well-shaped request, then often one field (top level or in a message) made arbitrary."""
    request = draw(valid_shaped)
    where = draw(st.sampled_from(["nowhere", "top", "message"]))
    if where == "top":
        request[draw(st.sampled_from(FIELDS))] = draw(json_values)
    elif where == "message":
        message = draw(st.sampled_from(request["messages"]))
        field = draw(st.sampled_from(["role", "content", "name", "tool_calls", "tool_call_id"]))
        message[field] = draw(json_values)
    return request


def _validate(raw: str | bytes | dict[str, Any]) -> None:
    """What the chat route does with a body before it reaches the service."""
    if isinstance(raw, dict):
        body = ChatCompletionRequest.model_validate(raw)
    else:
        body = ChatCompletionRequest.model_validate_json(raw)
    request = to_generation_request(body)
    with_budget(request.thinking, DEFAULT_EFFORT_BUDGETS)  # what the service resolves
    # What the llama.cpp engine compiles before any quota or slot (Engine.check).
    reply_grammar(request)


def _refused_properly(raw: str | bytes | dict[str, Any]) -> None:
    """Accepted, or refused with a 4xx; a ValidationError must also make a message."""
    try:
        _validate(raw)
    except ValidationError as exc:
        message, param = _validation_message(exc.errors(include_url=False))
        assert message and isinstance(message, str)
        assert param is None or isinstance(param, str)
    except OpenVertexError as exc:
        assert 400 <= exc.code < 500, exc
        assert exc.message


@PROPERTIES
@given(json_values)
def test_any_json_value_is_accepted_or_refused_with_a_4xx(value: Any) -> None:
    _refused_properly(json.dumps(value))
    if isinstance(value, dict):
        _refused_properly(value)


@PROPERTIES
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_are_accepted_or_refused_with_a_4xx(raw: bytes | str) -> None:
    _refused_properly(raw)


@settings(PROPERTIES, max_examples=600)
@given(requests())
@example(  # found by this test: `google` and `extra_body.google` together gave a 500
    {
        "model": "google/gemini-2.0-flash-001",
        "messages": [{"role": "user", "content": "hi"}],
        "google": {"thinking_config": {"thinking_budget": 0}},
        "extra_body": {"google": {}},
    },
)
def test_near_valid_requests_are_accepted_or_refused_with_a_4xx(request: dict[str, Any]) -> None:
    _refused_properly(json.dumps(request))


@settings(PROPERTIES, max_examples=300)
@given(json_values | requests())
def test_every_validation_error_makes_a_message(value: Any) -> None:
    try:
        ChatCompletionRequest.model_validate_json(json.dumps(value))
    except ValidationError as exc:
        message, _ = _validation_message(exc.errors(include_url=False))
        assert message.startswith(("Invalid request: ", "The request"))
    except OpenVertexError:
        pass
