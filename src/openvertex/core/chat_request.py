"""The Chat Completions request as clients send it, validated, and its meaning.

Validation is strict about types (a string is not a number) and ranges, and
lenient about extra fields: unknown top-level parameters are ignored, as Vertex
ignores them. `to_generation_request` is the only bridge to the engine side.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from openvertex.core.constraints import Constraint, json_object_constraint, json_schema_constraint
from openvertex.core.request import GenerationRequest, Message, Role, Sampling
from openvertex.errors import InvalidArgument

MAX_STOP_SEQUENCES = 16
MAX_INT32 = 2**31 - 1


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class TextPart(_Wire):
    type: Literal["text"]
    text: str


class ImageURL(_Wire):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Wire):
    type: Literal["image_url"]
    image_url: ImageURL


class InputAudio(_Wire):
    data: str
    format: str


class AudioPart(_Wire):
    type: Literal["input_audio"]
    input_audio: InputAudio


ContentPart = Annotated[TextPart | ImagePart | AudioPart, Field(discriminator="type")]


class ChatMessage(_Wire):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _content_present(self) -> ChatMessage:
        if self.content is None and self.role != "assistant":
            raise ValueError(f"a {self.role} message needs content")
        return self


class JSONSchemaFormat(_Wire):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise InvalidArgument(
                "response_format of type json_schema needs a json_schema object",
                param="response_format.json_schema",
            )
        return self


class StreamOptions(_Wire):
    include_usage: bool | None = None


class GoogleExtras(BaseModel):
    """`extra_body={"google": {...}}`; its fields are read by the features that use them."""

    model_config = ConfigDict(extra="allow")


class ExtraBody(_Wire):
    google: GoogleExtras | None = None


class ChatCompletionRequest(_Wire):
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_INT32)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_INT32)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=8)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    google: GoogleExtras | None = None
    extra_body: ExtraBody | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ChatCompletionRequest:
        if self.top_logprobs is not None and not self.logprobs:
            raise InvalidArgument("top_logprobs needs logprobs set to true", param="top_logprobs")
        stops = [self.stop] if isinstance(self.stop, str) else self.stop or []
        if len(stops) > MAX_STOP_SEQUENCES:
            raise InvalidArgument(
                f"stop takes at most {MAX_STOP_SEQUENCES} sequences", param="stop"
            )
        if any(s == "" for s in stops):
            raise InvalidArgument("stop sequences must not be empty", param="stop")
        return self


_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}


def _text_of(message: ChatMessage, index: int) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    texts = []
    for part in message.content:
        if isinstance(part, TextPart):
            texts.append(part.text)
        else:
            kind = "image" if isinstance(part, ImagePart) else "audio"
            raise InvalidArgument(
                f"This model reads text only; it cannot take {kind} input.",
                param=f"messages[{index}].content",
            )
    return "\n".join(texts)


def _constraint(response_format: ResponseFormat | None) -> tuple[Constraint | None, str]:
    """The grammar for `response_format`, and the instruction that tells the model about it."""
    if response_format is None or response_format.type == "text":
        return None, ""
    if response_format.type == "json_object":
        return json_object_constraint(), "Answer with a JSON object only."
    spec = response_format.json_schema
    assert spec is not None  # checked by ResponseFormat
    schema = spec.schema_ if spec.schema_ is not None else {}
    constraint = json_schema_constraint(
        schema, strict=bool(spec.strict), param="response_format.json_schema.schema"
    )
    about = f" ({spec.description})" if spec.description else ""
    return constraint, (
        f"Answer with a JSON object only: a {spec.name}{about}, following this JSON Schema:\n"
        + json.dumps(schema)
    )


def _with_instruction(messages: tuple[Message, ...], instruction: str) -> tuple[Message, ...]:
    """Tell the model the answer's format in the system turn, as Gemini does with a schema."""
    if not instruction:
        return messages
    if messages and messages[0].role == "system":
        first = messages[0]
        return (Message("system", f"{first.content}\n\n{instruction}"), *messages[1:])
    return (Message("system", instruction), *messages)


def to_generation_request(
    body: ChatCompletionRequest, *, temperature: float | None, top_p: float | None
) -> GenerationRequest:
    """The engine-side request; `temperature`/`top_p` are the model's defaults."""
    messages = tuple(
        Message(role=_ROLES[m.role], content=_text_of(m, i), name=m.name)
        for i, m in enumerate(body.messages)
    )
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    sampling = Sampling(
        temperature=body.temperature if body.temperature is not None else temperature,
        top_p=body.top_p if body.top_p is not None else top_p,
        seed=body.seed,
        presence_penalty=body.presence_penalty or 0.0,
        frequency_penalty=body.frequency_penalty or 0.0,
        stop=stop,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        logprobs=bool(body.logprobs),
        top_logprobs=body.top_logprobs or 0,
    )
    constraint, instruction = _constraint(body.response_format)
    return GenerationRequest(
        messages=_with_instruction(messages, instruction),
        sampling=sampling,
        n=body.n or 1,
        constraint=constraint,
    )
