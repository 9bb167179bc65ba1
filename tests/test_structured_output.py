"""response_format: grammar-constrained JSON that always parses and validates."""

from __future__ import annotations

import enum
import json
from typing import Any

import jsonschema
import openai
import pytest
from conftest import MODEL
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel

EXTRACT = [
    {"role": "system", "content": "Extract the event information."},
    {"role": "user", "content": "John and Susan are going to an AI conference on Friday."},
]


class CalendarEvent(BaseModel):
    name: str
    date: str
    participants: list[str]


class Size(enum.Enum):
    small = "small"
    medium = "medium"
    large = "large"


class Item(BaseModel):
    name: str
    quantity: int
    size: Size


class Order(BaseModel):
    customer: str
    items: list[Item]
    gift: bool


class Node(BaseModel):
    name: str
    children: list[Node]


def response_format(model: type[BaseModel]) -> dict[str, Any]:
    """What `.parse()` sends for `model` (strict, additionalProperties false)."""
    schema = to_strict_json_schema(model)
    return {
        "type": "json_schema",
        "json_schema": {"name": model.__name__, "schema": schema, "strict": True},
    }


CASES = {
    "calendar": (EXTRACT, response_format(CalendarEvent)),
    "nested-enum": (
        [{"role": "user", "content": "Anna orders two large pizzas and a small salad."}],
        response_format(Order),
    ),
    "recursive-tree": (
        [{"role": "user", "content": "Describe a family tree: Ada, her son Ben, his kids Cy, Di."}],
        response_format(Node),
    ),
    "json-object": (
        [{"role": "user", "content": "Give me a JSON object describing a cat."}],
        {"type": "json_object"},
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_twenty_runs_always_parse_and_validate(client, case):
    messages, fmt = CASES[case]
    schema = fmt.get("json_schema", {}).get("schema", {"type": "object"})
    finishes = []
    # 4 requests x n=5 (seeds seed..seed+4): 20 distinct runs per schema.
    for seed in range(0, 20, 5):
        reply = client.chat.completions.create(
            model=MODEL, messages=messages, response_format=fmt, n=5, temperature=1.0, seed=seed
        )
        for choice in reply.choices:
            finishes.append(choice.finish_reason)
            if choice.finish_reason == "stop":
                jsonschema.validate(json.loads(choice.message.content), schema)
    assert len(finishes) == 20
    assert finishes.count("stop") >= 19, finishes


def test_seedless_parse_sync(client):
    completion = client.beta.chat.completions.parse(
        model=MODEL, messages=EXTRACT, response_format=CalendarEvent
    )
    assert isinstance(completion.choices[0].message.parsed, CalendarEvent)


async def test_parse_async(aclient):
    completion = await aclient.beta.chat.completions.parse(
        model=MODEL, messages=EXTRACT, response_format=Order
    )
    order = completion.choices[0].message.parsed
    assert isinstance(order, Order) and all(isinstance(i.size, Size) for i in order.items)


def test_parse_streaming_helper(client):
    with client.beta.chat.completions.stream(
        model=MODEL, messages=EXTRACT, response_format=CalendarEvent
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, CalendarEvent)
    assert len(deltas) > 3
    CalendarEvent.model_validate_json("".join(deltas))


def test_stream_deltas_concatenate_to_valid_json(client):
    chunks = client.chat.completions.create(
        model=MODEL, messages=EXTRACT, response_format=response_format(CalendarEvent), stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    CalendarEvent.model_validate_json(text)


def test_compact_json_without_free_whitespace(client):
    reply = client.chat.completions.create(
        model=MODEL, messages=EXTRACT, response_format=response_format(CalendarEvent), seed=3
    )
    content = reply.choices[0].message.content
    assert "\n" not in content and "  " not in content


def test_length_cut_is_reported_and_parse_raises(client):
    with pytest.raises(openai.LengthFinishReasonError):
        client.beta.chat.completions.parse(
            model=MODEL, messages=EXTRACT, response_format=CalendarEvent, max_tokens=3
        )


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({"type": "object", "properties": {"a": {"not": {"type": "string"}}}}, "not"),
        ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "uniqueItems"),
        ({"type": "string", "format": "no-such-format"}, "no-such-format"),
    ],
)
def test_unenforceable_keyword_with_strict_is_refused(client, schema, named):
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=EXTRACT, response_format=fmt)
    assert named in caught.value.message
    assert caught.value.param == "response_format.json_schema.schema"
    lenient = {**fmt, "json_schema": {**fmt["json_schema"], "strict": False}}
    reply = client.chat.completions.create(
        model=MODEL, messages=EXTRACT, response_format=lenient, max_tokens=8
    )
    assert reply.choices[0].message.content


@pytest.mark.parametrize(
    "fmt",
    [
        {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nonsense"}}},
        {"type": "json_schema", "json_schema": {"name": "x", "schema": {"required": "a"}}},
        {"type": "json_schema"},
        {"type": "json_schema", "json_schema": {"name": "bad name!", "schema": {}}},
        {"type": "yaml"},
    ],
)
def test_malformed_response_format_is_refused(client, fmt):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=EXTRACT, response_format=fmt)
    assert caught.value.param.startswith("response_format")


def test_text_format_is_plain(client):
    reply = client.chat.completions.create(
        model=MODEL, messages=EXTRACT, response_format={"type": "text"}, max_tokens=8
    )
    assert reply.choices[0].message.content
