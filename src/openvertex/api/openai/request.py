"""The Chat Completions request as clients send it, validated, and what it means.

Validation is strict about types (a string is not a number) and ranges, and
lenient about extra fields: unknown top-level parameters are ignored, as Vertex
ignores them. `to_generation_request` turns it into the wire-neutral request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from openvertex.core import json_bounds
from openvertex.core.intent import check_json_schema, tool, tool_use
from openvertex.core.json_bounds import SchemaBudget
from openvertex.core.request import (
    Audio,
    GenerationRequest,
    Image,
    ImageOutput,
    JsonOutput,
    Message,
    Part,
    Role,
    Sampling,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    ToolUse,
)
from openvertex.errors import InvalidArgument
from openvertex.media.base64data import decode_base64
from openvertex.media.errors import MediaError
from openvertex.media.image_bytes import load_image_bytes, url_scheme
from openvertex.serving import gemini_models
from openvertex.serving.thought_signatures import ThoughtSignatures

MAX_STOP_SEQUENCES = 16
MAX_INT32 = 2**31 - 1


class Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class TextPart(Wire):
    type: Literal["text"]
    text: str


class ImageURL(Wire):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(Wire):
    type: Literal["image_url"]
    image_url: ImageURL


class InputAudio(Wire):
    data: str
    format: str


class AudioPart(Wire):
    type: Literal["input_audio"]
    input_audio: InputAudio


ContentPart = Annotated[TextPart | ImagePart | AudioPart, Field(discriminator="type")]


FUNCTION_NAME = r"^[a-zA-Z0-9_-]{1,64}$"


class FunctionSpec(Wire):
    name: str = Field(pattern=FUNCTION_NAME)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolSpec(Wire):
    type: Literal["function"]
    function: FunctionSpec


class FunctionName(Wire):
    name: str


class NamedToolChoice(Wire):
    type: Literal["function"]
    function: FunctionName


class CalledFunction(Wire):
    name: str
    arguments: str


class GoogleWire(Wire):
    """Google's own fields, in snake_case or camelCase: clients send either."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )


class ThoughtSignature(GoogleWire):
    thought_signature: str | None = None


class CallExtras(Wire):
    google: ThoughtSignature | None = None


class CallIn(Wire):
    id: str
    type: Literal["function"] = "function"
    function: CalledFunction
    extra_content: CallExtras | None = None  # as Vertex returns it: the call's signature


class ChatMessage(Wire):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[CallIn] | None = None
    function_call: CalledFunction | None = None  # legacy form of one call
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _content_present(self) -> ChatMessage:
        if self.content is None and self.role != "assistant":
            raise ValueError(f"a {self.role} message needs content")
        return self


class JSONSchemaFormat(Wire):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(Wire):
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


class StreamOptions(Wire):
    include_usage: bool | None = None


class ThinkingConfig(GoogleWire):
    thinking_budget: int | None = Field(default=None, ge=-1, le=MAX_INT32)
    include_thoughts: bool | None = None


class GoogleExtras(GoogleWire):
    """`extra_body={"google": {...}}`: Vertex's own parameters; unknown ones are ignored."""

    thinking_config: ThinkingConfig | None = None
    cached_content: str | None = None  # a context cache's name: its head comes first
    thought_tag_marker: str | None = Field(default=None, pattern=r"^[A-Za-z][\w.:-]{0,31}$")


class ExtraBody(Wire):
    google: GoogleExtras | None = None


class ChatCompletionRequest(Wire):
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
    reasoning_effort: str | None = None
    tools: list[ToolSpec] | None = Field(default=None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionSpec] | None = Field(default=None, max_length=128)
    function_call: Literal["none", "auto"] | FunctionName | None = None
    user: str | None = None
    modalities: list[Literal["text", "image", "audio"]] | None = None
    google: GoogleExtras | None = None
    extra_body: ExtraBody | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ChatCompletionRequest:
        if self.top_logprobs is not None and not self.logprobs:
            raise InvalidArgument("top_logprobs needs logprobs set to true", param="top_logprobs")
        stop_sequences(self.stop)
        return self

    @property
    def google_extras(self) -> GoogleExtras:
        """`google` as the SDK sends it (top level), or nested in a literal `extra_body`."""
        nested = self.extra_body.google if self.extra_body else None
        top = self.google
        if nested is None or top is None:
            return top or nested or GoogleExtras()
        # Top-level fields win; copied as models (model_copy does not validate a dump).
        return nested.model_copy(update={name: getattr(top, name) for name in top.model_fields_set})


def stop_sequences(stop: str | list[str] | None) -> tuple[str, ...]:
    """`stop` as a tuple, checked: at most MAX_STOP_SEQUENCES, none empty."""
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if len(stops) > MAX_STOP_SEQUENCES:
        raise InvalidArgument(f"stop takes at most {MAX_STOP_SEQUENCES} sequences", param="stop")
    if "" in stops:
        raise InvalidArgument("stop sequences must not be empty", param="stop")
    return stops


class ImageGenerationRequest(Wire):
    """`POST .../images/generations`, as the `openai` SDK's `images.generate` sends it."""

    model: str = Field(min_length=1)
    prompt: str = Field(min_length=1, max_length=32_000)
    n: int | None = Field(default=None, ge=1, le=8)
    size: str | None = Field(default=None, pattern=r"^(auto|[1-9]\d{1,4}x[1-9]\d{1,4})$")
    response_format: Literal["b64_json", "url"] | None = None  # url: a data URL
    user: str | None = None


_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}


def to_generation_request(
    body: ChatCompletionRequest, signatures: ThoughtSignatures | None = None
) -> GenerationRequest:
    """The wire-neutral request: what the client asked, before the model's defaults.

    On a Gemini 3 name, a call sent back with its signature must carry the one it was
    given; one sent back without is taken, as Vertex's OpenAI layer takes it."""
    if signatures is not None and gemini_models.is_gemini_3(body.model):
        _check_signatures(body, signatures)
    sampling = Sampling(
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        presence_penalty=body.presence_penalty or 0.0,
        frequency_penalty=body.frequency_penalty or 0.0,
        stop=stop_sequences(body.stop),
        max_tokens=body.max_completion_tokens or body.max_tokens,
        logprobs=bool(body.logprobs),
        top_logprobs=body.top_logprobs or 0,
    )
    budget = SchemaBudget()
    return GenerationRequest(
        model=body.model,
        messages=_messages(body),
        sampling=sampling,
        candidates=body.n or 1,
        thinking=_thinking(body),
        output=_output(body.response_format, budget),
        tools=_tool_use(body, budget),
        image=_image_output(body.modalities),
        stream=bool(body.stream),
    )


def _image_output(modalities: Sequence[str] | None) -> ImageOutput | None:
    if "audio" in (modalities or ()):
        raise InvalidArgument(
            "No model here speaks: audio output is not served.", param="modalities"
        )
    return ImageOutput() if "image" in (modalities or ()) else None


def _messages(body: ChatCompletionRequest) -> tuple[Message, ...]:
    """The conversation, with earlier calls and their results tied together by id."""
    known: set[str] = set()
    legacy_ids: dict[str, str] = {}  # function name → id of its latest legacy call
    out = []
    for i, m in enumerate(body.messages):
        calls: list[ToolCall] = []
        for j, call in enumerate(m.tool_calls or ()):
            arguments = _arguments(
                call.function.arguments, f"messages[{i}].tool_calls[{j}].function.arguments"
            )
            calls.append(ToolCall(j, call.id, call.function.name, arguments))
        if m.function_call is not None:
            call_id = legacy_ids[m.function_call.name] = f"call_legacy_{i}"
            where = f"messages[{i}].function_call.arguments"
            arguments = _arguments(m.function_call.arguments, where)
            calls.append(ToolCall(len(calls), call_id, m.function_call.name, arguments))
        known.update(call.id for call in calls)
        if m.role in ("tool", "function"):
            answers = m.tool_call_id
            if m.role == "function":
                answers = legacy_ids.get(m.name or "")
            elif answers is None or answers not in known:
                raise InvalidArgument(
                    f"tool_call_id {answers!r} answers no earlier tool call"
                    if answers
                    else "A tool message needs the tool_call_id of the call it answers.",
                    param=f"messages[{i}].tool_call_id",
                )
            result = ToolResult(_text_of(m, i), answers, m.name)
            out.append(Message("tool", (result,), m.name))
        else:
            out.append(Message(_ROLES[m.role], (*_content(m, i), *calls), m.name))
    return tuple(out)


def _check_signatures(body: ChatCompletionRequest, signatures: ThoughtSignatures) -> None:
    for i, message in enumerate(body.messages):
        for j, call in enumerate(message.tool_calls or ()):
            google = call.extra_content.google if call.extra_content else None
            if google is not None and google.thought_signature is not None:
                where = f"messages[{i}].tool_calls[{j}].extra_content.google.thought_signature"
                name, arguments = call.function.name, call.function.arguments
                signatures.check(body.model, name, arguments, google.thought_signature, where)


def _content(message: ChatMessage, index: int) -> tuple[Part, ...]:
    if message.content is None:
        return ()
    if message.role != "assistant" and (
        message.content == ""
        or any(isinstance(p, TextPart) and p.text == "" for p in message.content)
    ):  # Vertex's refusal, on either wire
        raise InvalidArgument(
            "Unable to submit request because it has an empty text parameter. Add a value to "
            "the parameter and try again. Learn more: "
            "https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini",
            param=f"messages[{index}].content",
        )
    if isinstance(message.content, str):
        return (Text(message.content),)
    return tuple(_part(part, f"messages[{index}].content[{j}]")
                 for j, part in enumerate(message.content))  # fmt: skip


def _part(part: TextPart | ImagePart | AudioPart, where: str) -> Part:
    try:
        if isinstance(part, TextPart):
            return Text(part.text)
        if isinstance(part, AudioPart):
            data = decode_base64(part.input_audio.data, "audio data")
            return Audio(data, part.input_audio.format, where)
        url = part.image_url.url
        if url_scheme(url) != "data":
            return Image(url=url, where=where)
        data, mime = load_image_bytes(url)
        return Image(data=data, mime_type=mime or None, where=where)
    except MediaError as exc:
        raise InvalidArgument(str(exc), param=where) from None


def _text_of(message: ChatMessage, index: int) -> str:
    """A tool message's content: text only."""
    parts = _content(message, index)
    if any(not isinstance(part, Text) for part in parts):
        raise InvalidArgument(
            "A tool message's content must be text.", param=f"messages[{index}].content"
        )
    return "\n".join(part.text for part in parts if isinstance(part, Text))


def _arguments(text: str, param: str) -> str:
    arguments = json_bounds.loads(text, what="Function arguments", param=param)
    if not isinstance(arguments, dict):
        raise InvalidArgument("Function arguments must be a JSON object, as a string.", param=param)
    return text


def _output(response_format: ResponseFormat | None, budget: SchemaBudget) -> JsonOutput | None:
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return JsonOutput(where="response_format")
    spec = response_format.json_schema
    assert spec is not None  # checked by ResponseFormat
    where = "response_format.json_schema.schema"
    schema = spec.schema_ if spec.schema_ is not None else {}
    check_json_schema(schema, where=where, budget=budget)
    return JsonOutput(schema, bool(spec.strict), spec.name, spec.description, where)


def _tool_use(body: ChatCompletionRequest, budget: SchemaBudget) -> ToolUse | None:
    """The tools offered and how they must be used."""
    if body.tools is not None and body.functions is not None:
        raise InvalidArgument("Give tools or the legacy functions, not both.", param="functions")
    legacy = body.functions is not None
    specs = [t.function for t in body.tools or ()] if not legacy else body.functions or []
    choice = body.function_call if legacy else body.tool_choice
    field = "functions" if legacy else "tools"
    choice_param = "function_call" if legacy else "tool_choice"
    if not specs:
        if choice is not None and choice != "none":
            raise InvalidArgument(f"{choice_param} needs tools to choose from.", param=choice_param)
        return None
    tools = [
        tool(
            spec.name,
            spec.description or "",
            spec.parameters,
            strict=bool(spec.strict),
            where=f"{field}[{i}].function.parameters" if not legacy else f"{field}[{i}].parameters",
            budget=budget,
        )
        for i, spec in enumerate(specs)
    ]
    mode: Literal["auto", "required", "none"]
    allowed = None
    if choice is None or isinstance(choice, str):
        mode = "none" if choice == "none" else "required" if choice == "required" else "auto"
    else:
        mode, allowed = (
            "required",
            [choice.name if isinstance(choice, FunctionName) else choice.function.name],
        )
    # A named function is called once (as OpenAI does): small models would repeat it.
    parallel = body.parallel_tool_calls is not False and not legacy and allowed is None
    return tool_use(
        tools, mode, allowed, parallel=parallel, tools_where=field, choice_where=choice_param
    )


def _thinking(body: ChatCompletionRequest) -> Thinking:
    """`reasoning_effort` or Google's `thinking_config`, never both."""
    config = body.google_extras.thinking_config
    effort = body.reasoning_effort
    if effort is not None and config is not None:
        raise InvalidArgument(
            "reasoning_effort and extra_body.google.thinking_config cannot be used together; "
            "give one of them.",
            param="reasoning_effort",
        )
    if effort is not None:
        return Thinking(level=effort, where="reasoning_effort")
    if config is None:
        return Thinking()
    return Thinking(config.thinking_budget, bool(config.include_thoughts))


class EmbeddingsBody(Wire):
    """OpenAI's embeddings request (`api/openai/embeddings.py` reads it)."""

    model: str
    input: str | list[str] | list[int] | list[list[int]]
    dimensions: int | None = Field(default=None, ge=1)
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None
