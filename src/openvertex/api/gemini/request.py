"""Gemini's GenerateContentRequest as google-genai sends it, validated, and what it means.

Field names are accepted in camelCase and snake_case alike, as Google's own JSON
parsing does (the SDK mixes them: `inlineData{mime_type}`). An unknown field is a
400, as on Vertex; a known one openvertex cannot honour (Google Search, speech
output…) is a 400 that says so, never silently dropped.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from openvertex.api.gemini.schema import to_json_schema
from openvertex.core.intent import check_json_schema, tool, tool_use
from openvertex.core.json_bounds import SchemaBudget
from openvertex.core.request import (
    Audio,
    GenerationRequest,
    Image,
    ImageOutput,
    JsonOutput,
    LiteralOutput,
    Message,
    Output,
    Part,
    Sampling,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    ToolUse,
)
from openvertex.errors import InvalidArgument
from openvertex.media.errors import MediaError
from openvertex.media.image_bytes import load_image_bytes, url_scheme
from openvertex.serving import gemini_models
from openvertex.serving.thought_signatures import ThoughtSignatures, missing_signature

MAX_INT32 = 2**31 - 1
FUNCTION_NAME = r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$"


class _Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="forbid"
    )


class Blob(_Wire):
    data: str
    mime_type: str
    display_name: str | None = None


class FileData(_Wire):
    file_uri: str
    mime_type: str | None = None
    display_name: str | None = None


class FunctionCall(_Wire):
    name: str
    args: dict[str, Any] | None = None
    id: str | None = None
    partial_args: list[Any] | None = None
    will_continue: bool | None = None


class FunctionResponse(_Wire):
    name: str
    response: dict[str, Any]
    id: str | None = None
    will_continue: bool | None = None
    scheduling: str | None = None
    parts: list[Any] | None = None


class PartIn(_Wire):
    text: str | None = None
    inline_data: Blob | None = None
    file_data: FileData | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None
    thought: bool | None = None
    thought_signature: str | None = None
    # Accepted and without effect here: hints for how media are tokenised.
    video_metadata: dict[str, Any] | None = None
    media_resolution: dict[str, Any] | str | None = None
    part_metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PartIn:
        kinds = [
            self.text,
            self.inline_data,
            self.file_data,
            self.function_call,
            self.function_response,
        ]
        if sum(kind is not None for kind in kinds) != 1:
            raise ValueError(
                "a part holds exactly one of text, inlineData, fileData, functionCall, "
                "functionResponse"
            )
        return self


class Content(_Wire):
    role: Literal["user", "model", "function"] | None = None
    parts: list[PartIn] = Field(min_length=1)


class ThinkingConfig(_Wire):
    thinking_budget: int | None = Field(default=None, ge=-1, le=MAX_INT32)
    include_thoughts: bool | None = None
    thinking_level: (
        Literal["MINIMAL", "LOW", "MEDIUM", "HIGH", "THINKING_LEVEL_UNSPECIFIED"] | None
    ) = None


class GenerationConfig(_Wire):
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=1, le=MAX_INT32)
    candidate_count: int | None = Field(default=None, ge=1, le=8)
    max_output_tokens: int | None = Field(default=None, ge=1, le=MAX_INT32)
    stop_sequences: list[str] | None = Field(default=None, max_length=5)
    seed: int | None = Field(default=None, ge=-(2**31), le=MAX_INT32)
    presence_penalty: float | None = Field(default=None, ge=-2, lt=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, lt=2)
    response_logprobs: bool | None = None
    logprobs: int | None = Field(default=None, ge=0, le=20)
    response_mime_type: str | None = None
    response_schema: dict[str, Any] | None = None
    response_json_schema: Any = None
    thinking_config: ThinkingConfig | None = None
    response_modalities: list[str] | None = None
    # Accepted and without effect here: media tokenisation, routing between models.
    media_resolution: str | None = None
    routing_config: dict[str, Any] | None = None
    model_selection_config: dict[str, Any] | None = None
    enable_enhanced_civic_answers: bool | None = None
    # Known, and refused when set: openvertex makes text, not speech or translations.
    speech_config: Any = None
    audio_timestamp: bool | None = None
    enable_affective_dialog: bool | None = None
    translation_config: Any = None
    audio_transcription_config: Any = None
    response_format: Any = None


class FunctionDeclaration(_Wire):
    name: str = Field(pattern=FUNCTION_NAME)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    parameters_json_schema: Any = None
    response: dict[str, Any] | None = None
    response_json_schema: Any = None
    behavior: str | None = None


_SERVER_TOOLS = (
    "retrieval",
    "computer_use",
    "file_search",
    "google_search",
    "google_maps",
    "code_execution",
    "enterprise_web_search",
    "google_search_retrieval",
    "parallel_ai_search",
    "url_context",
    "mcp_servers",
    "exa_ai_search",
)


class ToolIn(_Wire):
    model_config = ConfigDict(extra="allow")  # Google's own tools, refused by name below

    function_declarations: list[FunctionDeclaration] | None = None


class FunctionCallingConfig(_Wire):
    mode: Literal["AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"] | None = None
    allowed_function_names: list[str] | None = None
    stream_function_call_arguments: bool | None = None


class ToolConfig(_Wire):
    function_calling_config: FunctionCallingConfig | None = None
    retrieval_config: dict[str, Any] | None = None
    include_server_side_tool_invocations: bool | None = None


class SafetySetting(_Wire):
    category: str
    threshold: str | None = None
    method: str | None = None


class GenerateContentRequest(_Wire):
    contents: list[Content] = Field(min_length=1)
    system_instruction: Content | None = None
    generation_config: GenerationConfig | None = None
    tools: list[ToolIn] | None = Field(default=None, max_length=128)
    tool_config: ToolConfig | None = None
    safety_settings: list[SafetySetting] | None = None
    cached_content: str | None = None
    labels: dict[str, str] | None = None
    model: str | None = None  # the REST body may repeat the model of the URL


class CountTokensRequest(_Wire):
    contents: list[Content] = Field(min_length=1)
    system_instruction: Content | None = None
    generation_config: GenerationConfig | None = None
    tools: list[ToolIn] | None = None
    tool_config: ToolConfig | None = None
    cached_content: str | None = None
    instances: list[Any] | None = None
    model: str | None = None


class ComputeTokensRequest(_Wire):
    contents: list[Content] = Field(min_length=1)
    instances: list[Any] | None = None
    model: str | None = None


def to_generation_request(
    body: GenerateContentRequest | CountTokensRequest,
    model: str,
    *,
    stream: bool = False,
    signatures: ThoughtSignatures | None = None,
) -> GenerationRequest:
    """The wire-neutral request: what the client asked, before the model's defaults.

    `model`: the name asked for, whose generation sets Vertex's rules (thinking levels,
    thought signatures checked with `signatures`)."""
    config = body.generation_config or GenerationConfig()
    if isinstance(body, GenerateContentRequest):
        _refuse_what_cannot_be_honoured(body, config)
    if signatures is not None and gemini_models.is_gemini_3(model):
        check_signatures(body.contents, model, signatures)
    messages = messages_of(body.contents)
    if body.system_instruction is not None:
        system = _system(body.system_instruction)
        messages = (system, *messages)
    if config.logprobs is not None and not config.response_logprobs:
        raise InvalidArgument(
            "logprobs needs responseLogprobs set to true.", param="generationConfig.logprobs"
        )
    sampling = Sampling(
        temperature=config.temperature,
        top_p=config.top_p,
        top_k=config.top_k,
        seed=config.seed,
        presence_penalty=config.presence_penalty or 0.0,
        frequency_penalty=config.frequency_penalty or 0.0,
        stop=tuple(config.stop_sequences or ()),
        max_tokens=config.max_output_tokens,
        logprobs=bool(config.response_logprobs),
        top_logprobs=config.logprobs or 0,
    )
    tool_config = body.tool_config if isinstance(body, GenerateContentRequest) else None
    budget = SchemaBudget()
    return GenerationRequest(
        model=model,
        messages=messages,
        sampling=sampling,
        candidates=config.candidate_count or 1,
        thinking=_thinking(config.thinking_config, model),
        output=_output(config, budget),
        tools=_tool_use(body.tools, tool_config, budget),
        image=_image_output(config),
        stream=stream,
    )


def _image_output(config: GenerationConfig) -> ImageOutput | None:
    modalities = {m.upper() for m in config.response_modalities or ()}
    if "IMAGE" not in modalities:
        return None
    return ImageOutput(where="generationConfig.responseModalities")


def _refuse_what_cannot_be_honoured(body: GenerateContentRequest, config: GenerationConfig) -> None:
    for name in (
        "speech_config",
        "audio_timestamp",
        "enable_affective_dialog",
        "translation_config",
        "audio_transcription_config",
        "response_format",
    ):
        if getattr(config, name) not in (None, False):
            raise InvalidArgument(
                f"generationConfig.{to_camel(name)} is not supported: this model writes text.",
                param=f"generationConfig.{to_camel(name)}",
            )
    other = [m.upper() for m in config.response_modalities or () if m.upper() != "TEXT"]
    if other and other[0] != "IMAGE":
        raise InvalidArgument(
            f"No model here answers with {other[0]}; they write text or draw images.",
            param="generationConfig.responseModalities",
        )


def messages_of(contents: list[Content]) -> tuple[Message, ...]:
    """The conversation: `model` turns are the assistant's, function responses tool turns."""
    out: list[Message] = []
    unanswered: list[ToolCall] = []  # the latest model turn's calls, for results without ids
    for i, content in enumerate(contents):
        where = f"contents[{i}]"
        if content.role == "model":
            out.append(Message("assistant", _model_parts(content, i)))
            unanswered = list(out[-1].tool_calls)
            continue
        results = [p.function_response for p in content.parts if p.function_response]
        if results:
            out.append(Message("tool", tuple(_result(r, unanswered) for r in results if r)))
        parts = tuple(
            _user_part(p, f"{where}.parts[{j}]")
            for j, p in enumerate(content.parts)
            if p.function_response is None
        )
        if parts:
            out.append(Message("user", parts))
    return tuple(out)


def check_signatures(contents: list[Content], model: str, signatures: ThoughtSignatures) -> None:
    """Vertex's rule on Gemini 3: in the current turn (after the last user turn that is not
    only function responses), each step's first function call carries its signature, and
    every signature there is the one given with its call."""
    start = next(
        (
            i
            for i in range(len(contents) - 1, -1, -1)
            if contents[i].role != "model"
            and any(p.function_response is None for p in contents[i].parts)
        ),
        -1,
    )
    for i in range(start + 1, len(contents)):
        if contents[i].role != "model":
            continue
        first = True
        for j, part in enumerate(contents[i].parts):
            call = part.function_call
            if call is None:
                continue
            where = f"contents[{i}].parts[{j}].thoughtSignature"
            if part.thought_signature is not None:
                signatures.check(model, call.name, call.args or {}, part.thought_signature, where)
            elif first:
                raise missing_signature(call.name, i, where)
            first = False


def _system(content: Content) -> Message:
    if any(part.text is None for part in content.parts):
        raise InvalidArgument(
            "systemInstruction takes text parts only.", param="systemInstruction.parts"
        )
    for j, part in enumerate(content.parts):
        _refuse_empty(part, f"systemInstruction.parts[{j}]")
    return Message("system", tuple(Text(p.text) for p in content.parts if p.text is not None))


def _model_parts(content: Content, index: int) -> tuple[Part, ...]:
    where = f"contents[{index}]"
    parts: list[Part] = []
    for j, part in enumerate(content.parts):
        if part.thought:
            continue  # the model's earlier thoughts are not part of the conversation
        if part.text is not None:
            parts.append(Text(part.text))
        elif part.function_call is not None:
            call = part.function_call
            call_id = call.id or f"call_{index}_{j}"  # AFC sends calls back without ids
            parts.append(ToolCall(j, call_id, call.name, json.dumps(call.args or {})))
        else:
            raise InvalidArgument(
                "A model turn holds text and function calls only.", param=f"{where}.parts[{j}]"
            )
    return tuple(parts)


def _result(response: FunctionResponse, unanswered: list[ToolCall]) -> ToolResult:
    """The result, tied to its call: by id, else (as AFC sends them) by name, in order."""
    call_id = response.id
    if call_id is None:
        call = next((c for c in unanswered if c.name == response.name), None)
        if call is not None:
            unanswered.remove(call)
            call_id = call.id
    content = json.dumps(response.response, ensure_ascii=False)
    return ToolResult(content, call_id, response.name)


def _refuse_empty(part: PartIn, where: str) -> None:
    if part.text == "":
        raise InvalidArgument(
            "Unable to submit request because it has an empty text parameter. Add a value to "
            "the parameter and try again. Learn more: "
            "https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini",
            param=f"{where}.text",
        )


def _user_part(part: PartIn, where: str) -> Part:
    _refuse_empty(part, where)
    if part.text is not None:
        return Text(part.text)
    if part.function_call is not None:
        raise InvalidArgument("A user turn cannot hold a functionCall.", param=where)
    try:
        if part.inline_data is not None:
            return _inline(part.inline_data, where)
        assert part.file_data is not None
        return _file(part.file_data, where)
    except MediaError as exc:
        raise InvalidArgument(str(exc), param=where) from None


def _inline(blob: Blob, where: str) -> Part:
    mime = blob.mime_type.split(";", 1)[0].strip().lower()
    try:  # base64 as proto's JSON takes it: standard or URL-safe, padded or not
        compact = re.sub(r"\s+", "", blob.data).replace("-", "+").replace("_", "/")
        data = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise MediaError("inlineData.data is not valid base64") from None
    if not data:
        raise MediaError("inlineData.data is empty")
    if mime.startswith("image/"):
        return Image(data=data, mime_type=mime, where=where)
    if mime.startswith("audio/"):
        return Audio(data, mime, where)
    if mime.startswith("text/"):
        try:
            return Text(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise MediaError(f"inlineData of type {mime} is not UTF-8 text") from None
    raise MediaError(f"unsupported inlineData type {mime[:40]!r}: images, audio and text only")


def _file(file: FileData, where: str) -> Part:
    mime = (file.mime_type or "").split(";", 1)[0].strip().lower()
    scheme = url_scheme(file.file_uri)  # data:, http: and https: only; gs:// is Google's storage
    if mime and not mime.startswith("image/"):
        raise MediaError(
            f"fileData of type {mime[:40]!r} cannot be fetched: only images are fetched by URL; "
            "send audio and text as inlineData"
        )
    if scheme == "data":
        data, declared = load_image_bytes(file.file_uri)
        return Image(data=data, mime_type=declared or mime or None, where=where)
    return Image(url=file.file_uri, mime_type=mime or None, where=where)


def _thinking(config: ThinkingConfig | None, model: str) -> Thinking:
    """Vertex's knobs by generation: Gemini 3 thinks by `thinkingLevel` (and still takes a
    budget), Gemini 2.x by `thinkingBudget` only; a pro model cannot stop thinking."""
    if config is None:
        return Thinking()
    where = "generationConfig.thinkingConfig.thinkingLevel"
    level = config.thinking_level
    if level == "THINKING_LEVEL_UNSPECIFIED":
        level = None
    if level is not None and config.thinking_budget is not None:
        raise InvalidArgument(
            "thinkingBudget and thinkingLevel cannot be used together; give one of them.",
            param="generationConfig.thinkingConfig",
        )
    generation = gemini_models.generation(model)
    if level is not None and generation is not None and generation < (3, 0):
        raise InvalidArgument("Thinking level is not supported for this model.", param=where)
    pro = gemini_models.is_pro(model)
    if level == "MINIMAL" and pro and generation is not None:
        raise InvalidArgument(
            "'minimal' is not a supported thinking level for this model. "
            "Allowed values are: low, medium, high.",
            param=where,
        )
    if config.thinking_budget == 0 and pro and generation is not None:
        raise InvalidArgument(
            "Budget 0 is invalid. This model only works in thinking mode.",
            param="generationConfig.thinkingConfig.thinkingBudget",
        )
    return Thinking(config.thinking_budget, bool(config.include_thoughts), level, where)


def _output(config: GenerationConfig, budget: SchemaBudget) -> Output | None:
    mime = (config.response_mime_type or "text/plain").lower()
    given = config.response_schema is not None or config.response_json_schema is not None
    if config.response_schema is not None and config.response_json_schema is not None:
        raise InvalidArgument(
            "Give responseSchema or responseJsonSchema, not both.",
            param="generationConfig.responseJsonSchema",
        )
    if mime not in ("text/plain", "application/json", "text/x.enum"):
        raise InvalidArgument(
            f"responseMimeType {mime!r} is not supported; use text/plain, application/json "
            "or text/x.enum.",
            param="generationConfig.responseMimeType",
        )
    if mime == "text/plain":
        if given:
            raise InvalidArgument(
                "A response schema needs responseMimeType application/json (or text/x.enum).",
                param="generationConfig.responseMimeType",
            )
        return None
    if config.response_json_schema is not None:
        where = "generationConfig.responseJsonSchema"
        check_json_schema(config.response_json_schema, where=where, budget=budget)
        schema = config.response_json_schema
        return JsonOutput(schema if isinstance(schema, dict) else {}, where=where)
    where = "generationConfig.responseSchema"
    schema = to_json_schema(config.response_schema, where) if given else None
    if mime == "text/x.enum":
        options = (schema or {}).get("enum")
        if not options or not all(isinstance(o, str) for o in options):
            raise InvalidArgument(
                "text/x.enum needs a responseSchema with an enum of strings.", param=where
            )
        return LiteralOutput(tuple(options))
    if schema is None:
        return JsonOutput(where="generationConfig.responseMimeType")
    check_json_schema(schema, where=where, budget=budget)
    return JsonOutput(
        schema, name=schema.get("title"), description=schema.get("description"), where=where
    )


def _tool_use(
    tools: list[ToolIn] | None, tool_config: ToolConfig | None, budget: SchemaBudget
) -> ToolUse | None:
    declared = []
    for i, entry in enumerate(tools or ()):
        for name in _SERVER_TOOLS:
            if (entry.model_extra or {}).get(name) is not None or (
                (entry.model_extra or {}).get(to_camel(name)) is not None
            ):
                raise InvalidArgument(
                    f"openvertex cannot run Google's {to_camel(name)} tool; "
                    "declare your own functions (functionDeclarations) instead.",
                    param=f"tools[{i}].{to_camel(name)}",
                )
        if entry.model_extra:
            unknown = next(iter(entry.model_extra))
            raise InvalidArgument(f'Unknown name "{unknown}" in a Tool.', param=f"tools[{i}]")
        for j, declaration in enumerate(entry.function_declarations or ()):
            where = f"tools[{i}].functionDeclarations[{j}]"
            declared.append(_function(declaration, where, budget))
    calling = (tool_config.function_calling_config if tool_config else None) or (
        FunctionCallingConfig()
    )
    where = "toolConfig.functionCallingConfig"
    mode = calling.mode or "AUTO"
    allowed = calling.allowed_function_names
    if allowed is not None and mode not in ("ANY", "VALIDATED"):
        raise InvalidArgument(
            "allowedFunctionNames needs mode ANY or VALIDATED.",
            param=f"{where}.allowedFunctionNames",
        )
    if not declared:
        if mode == "ANY":
            raise InvalidArgument("Mode ANY needs functions to call.", param=f"{where}.mode")
        return None
    kind: Literal["auto", "required", "none"]
    kind = "required" if mode == "ANY" else "none" if mode == "NONE" else "auto"
    return tool_use(
        declared,
        kind,
        allowed,
        tools_where="tools",
        choice_where=f"{where}.allowedFunctionNames",
    )


def _function(declaration: FunctionDeclaration, where: str, budget: SchemaBudget) -> Any:
    if declaration.parameters is not None and declaration.parameters_json_schema is not None:
        raise InvalidArgument(
            "Give parameters or parametersJsonSchema, not both.", param=f"{where}.parameters"
        )
    if declaration.parameters is not None:
        parameters = to_json_schema(declaration.parameters, f"{where}.parameters")
        where = f"{where}.parameters"
    else:
        parameters = declaration.parameters_json_schema
        where = f"{where}.parametersJsonSchema"
        if parameters is not None and not isinstance(parameters, dict):
            raise InvalidArgument("parametersJsonSchema must be a JSON object.", param=where)
    description = declaration.description or ""
    return tool(declaration.name, description, parameters, strict=False, where=where, budget=budget)
