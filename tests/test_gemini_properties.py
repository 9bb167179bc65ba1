"""Property tests for the Gemini wire's request validation, in process: whatever a client
sends to `:generateContent` is accepted or refused with a 4xx, never a 500.

The route runs `GenerateContentRequest.model_validate_json`, then
`to_generation_request` (Google Schemas translated to JSON Schema on the way),
and the engine compiles the intent before any quota or slot.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from test_validation_properties import PROPERTIES, json_values

from openvertex.api.error_handlers import _validation_message
from openvertex.api.gemini.request import GenerateContentRequest, to_generation_request
from openvertex.engines.constraints.output import reply_grammar
from openvertex.errors import OpenVertexError

TYPES = ["STRING", "INTEGER", "NUMBER", "BOOLEAN", "ARRAY", "OBJECT", "NULL", "string", "FOO"]
google_schemas = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(TYPES),
            "enum": st.lists(st.text(max_size=4), max_size=3),
            "nullable": st.booleans(),
            "format": st.sampled_from(["date-time", "int32", "enum", "email"]),
            "minimum": st.integers(-3, 3),
            "maxLength": st.integers(-1, 4) | st.just("3"),
            "pattern": st.sampled_from(["^a+$", "[", ".*"]),
            "description": st.text(max_size=8),
        },
    ),
    lambda inner: st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["OBJECT", "ARRAY"]),
            "properties": st.dictionaries(st.text(max_size=5), inner, max_size=3),
            "required": st.lists(st.text(max_size=5), max_size=2),
            "property_ordering": st.lists(st.text(max_size=5), max_size=3),
            "items": inner,
            "anyOf": st.lists(inner, max_size=2),
            "minItems": st.integers(-1, 3) | st.just("2"),
            "maxItems": st.integers(0, 3),
            "additionalProperties": st.booleans() | inner,
        },
    ),
    max_leaves=8,
)
parts = st.one_of(
    st.fixed_dictionaries({"text": st.text(max_size=20)}),
    st.fixed_dictionaries(
        {
            "inlineData": st.fixed_dictionaries(
                {
                    "data": st.sampled_from(["iVBORw0KGgo=", "@@", "", "UklGRg=="]),
                    "mime_type": st.sampled_from(
                        ["image/png", "audio/wav", "text/plain", "video/mp4"]
                    ),
                }
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "fileData": st.fixed_dictionaries(
                {
                    "file_uri": st.sampled_from(["gs://b/x.png", "https://example.com/a.png", "x"]),
                    "mimeType": st.sampled_from(["image/png", "application/pdf"]),
                }
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "functionCall": st.fixed_dictionaries(
                {"name": st.text(max_size=6)}, optional={"args": json_values}
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "functionResponse": st.fixed_dictionaries(
                {"name": st.text(max_size=6), "response": json_values}
            )
        }
    ),
    st.fixed_dictionaries({"text": st.text(max_size=8), "thought": st.booleans()}),
    st.fixed_dictionaries({}),
)
text_part = st.fixed_dictionaries({"text": st.text(max_size=20)})
contents = st.lists(
    st.fixed_dictionaries(
        {"parts": st.lists(text_part | text_part | parts, min_size=1, max_size=3)},
        optional={"role": st.sampled_from(["user", "user", "model", "function"])},
    ),
    min_size=1,
    max_size=3,
)
declarations = st.fixed_dictionaries(
    {"name": st.sampled_from(["get_weather", "f", "1bad", "x" * 130])},
    optional={
        "description": st.text(max_size=8),
        "parameters": google_schemas,
        "parametersJsonSchema": json_values,
    },
)
generation_config = st.fixed_dictionaries(
    {},
    optional={
        "temperature": st.floats(0, 2),
        "topP": st.floats(0, 1),
        "topK": st.integers(1, 50) | st.just(40.0),
        "candidateCount": st.integers(1, 8),
        "maxOutputTokens": st.integers(1, 100),
        "stopSequences": st.lists(st.text(min_size=1, max_size=3), max_size=5),
        "seed": st.integers(-(2**31), 2**31 - 1),
        "responseMimeType": st.sampled_from(
            ["application/json", "text/x.enum", "text/plain", "a/b"]
        ),
        "responseSchema": google_schemas,
        "responseJsonSchema": json_values,
        "responseLogprobs": st.booleans(),
        "logprobs": st.integers(-1, 25),
        "responseModalities": st.lists(st.sampled_from(["TEXT", "IMAGE", "text"]), max_size=2),
        "thinkingConfig": st.fixed_dictionaries(
            {},
            optional={
                "thinkingBudget": st.integers(-2, 2000),
                "thinking_level": st.sampled_from(["LOW", "HIGH", "NOPE"]),
                "includeThoughts": st.booleans(),
            },
        ),
    },
)
valid_shaped = st.fixed_dictionaries(
    {"contents": contents},
    optional={
        "systemInstruction": st.fixed_dictionaries({"parts": st.lists(parts, max_size=2)}),
        "generationConfig": generation_config,
        "tools": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "functionDeclarations": st.lists(declarations, max_size=3),
                    "googleSearch": st.just({}),
                    "somethingElse": json_values,
                },
            ),
            max_size=2,
        ),
        "toolConfig": st.fixed_dictionaries(
            {
                "functionCallingConfig": st.fixed_dictionaries(
                    {},
                    optional={
                        "mode": st.sampled_from(["AUTO", "ANY", "NONE", "VALIDATED", "BAD"]),
                        "allowed_function_names": st.lists(
                            st.sampled_from(["get_weather", "zz"]), max_size=2
                        ),
                    },
                )
            }
        ),
    },
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A well-shaped request, then often one field (top level or in the config) arbitrary."""
    request = draw(valid_shaped)
    where = draw(st.sampled_from(["nowhere", "nowhere", "top", "config"]))
    if where == "top":
        field = draw(
            st.sampled_from(
                [
                    "contents",
                    "systemInstruction",
                    "tools",
                    "toolConfig",
                    "safetySettings",
                    "cachedContent",
                    "labels",
                    "other",
                ]
            )
        )
        request[field] = draw(json_values)
    elif where == "config":
        config = request.setdefault("generationConfig", {})
        field = draw(
            st.sampled_from(
                [
                    "temperature",
                    "topK",
                    "candidateCount",
                    "seed",
                    "stopSequences",
                    "speechConfig",
                    "thinkingConfig",
                    "responseSchema",
                    "unknownField",
                ]
            )
        )
        config[field] = draw(json_values)
    return request


def _refused_properly(raw: str) -> None:
    """Accepted, or refused with a 4xx; a ValidationError must also make a message."""
    try:
        body = GenerateContentRequest.model_validate_json(raw)
        request = to_generation_request(body, "gemini-2.0-flash")
        reply_grammar(request)
    except ValidationError as exc:
        message, param = _validation_message(exc.errors(include_url=False))
        assert message and isinstance(message, str)
        assert param is None or isinstance(param, str)
    except OpenVertexError as exc:
        assert 400 <= exc.code < 500, exc
        assert exc.message


@PROPERTIES
@given(requests())
def test_near_valid_requests_are_accepted_or_refused_with_a_4xx(request: dict[str, Any]) -> None:
    _refused_properly(json.dumps(request))


@settings(PROPERTIES, max_examples=200)
@given(json_values)
def test_any_json_value_is_accepted_or_refused_with_a_4xx(value: Any) -> None:
    _refused_properly(json.dumps(value))
