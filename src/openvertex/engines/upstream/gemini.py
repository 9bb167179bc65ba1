"""A real Vertex AI (or any Gemini API) as the upstream: generateContent, as Google serves it.

A replica's URL is a publisher's model collection, e.g.
`https://us-central1-aiplatform.googleapis.com/v1/projects/P/locations/us-central1/publishers/google/models`;
requests go to `{url}/{model}:generateContent` and `:streamGenerateContent?alt=sse`,
with the operator's Google credentials (or an API key in express mode). Thinking
budgets, JSON Schemas, enums and function calling are Gemini's own, so the intent
passes as it is; thoughts are always asked for, and the wire adapter shows them
only when the client did.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from openvertex.core.events import (
    Event,
    Finish,
    FinishReason,
    ImageData,
    TextDelta,
    ThoughtDelta,
    Usage,
)
from openvertex.core.request import (
    Audio,
    GenerationRequest,
    Image,
    JsonOutput,
    LiteralOutput,
    Message,
    Text,
    ToolCall,
    ToolUse,
)
from openvertex.engines.base import Token
from openvertex.engines.upstream.api import Post
from openvertex.engines.upstream.pool import Replica
from openvertex.media.image_bytes import sniff_image

_FINISH: dict[str, FinishReason] = {"MAX_TOKENS": "length"}


class GeminiApi:
    prompted_tools = False
    modalities: tuple[str, ...] = ("text", "image", "audio")
    compiles = False

    def __init__(self, model: str, *, draws: bool = False) -> None:
        self.model = model
        self.output_modalities: tuple[str, ...] = ("text", "image") if draws else ("text",)
        self.probe_path = f"/{model}"  # GET the publisher model: cheap, and checks the name

    @property
    def details(self) -> dict[str, str]:
        return {"dialect": "gemini", "tools": "native (Gemini's function calling)"}

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        return gemini_body(request)

    def url(self, replica: Replica, stream: bool) -> str:
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{replica.url}/{self.model}:{method}"

    def reader(self) -> GeminiReader:
        return GeminiReader()

    async def draw(self, request: GenerationRequest, post: Post) -> list[Event]:
        reply = await post(lambda r: self.url(r, False), gemini_body(request))
        return self.reader().whole(reply)

    async def count_tokens(self, request: GenerationRequest, post: Post) -> int:
        body = gemini_body(request)
        ask: dict[str, Any] = {
            k: body[k] for k in ("contents", "systemInstruction", "tools") if k in body
        }
        reply = await post(lambda r: f"{r.url}/{self.model}:countTokens", ask)
        return int(reply.get("totalTokens", 0))

    async def tokenize(self, text: str, post: Post) -> list[Token]:
        ask = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
        reply = await post(lambda r: f"{r.url}/{self.model}:computeTokens", ask)
        info = (reply.get("tokensInfo") or [{}])[0]
        pieces = [base64.b64decode(t) for t in info.get("tokens", [])]
        return [Token(int(i), p) for i, p in zip(info.get("tokenIds", []), pieces, strict=False)]


def gemini_body(request: GenerationRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"contents": _contents(request.messages)}
    system = [{"text": m.text} for m in request.messages if m.role == "system"]
    if system:
        body["systemInstruction"] = {"role": "user", "parts": system}
    body["generationConfig"] = _config(request)
    if request.tools is not None:
        body |= _tools(request.tools)
    return body


def _contents(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # call id → function name: a response must name its function
    for message in messages:
        if message.role == "assistant":
            parts: list[dict[str, Any]] = [{"text": message.text}] if message.text else []
            for call in message.tool_calls:
                names[call.id] = call.name
                args = json.loads(call.arguments)
                parts.append({"functionCall": {"id": call.id, "name": call.name, "args": args}})
            out.append({"role": "model", "parts": parts or [{"text": ""}]})
        elif message.role == "tool":
            responses = []
            for result in message.tool_results:
                name = result.name or names.get(result.call_id or "", "")
                response: dict[str, Any] = {"name": name, "response": _object(result.content)}
                if result.call_id:
                    response["id"] = result.call_id
                responses.append({"functionResponse": response})
            out.append({"role": "user", "parts": responses})
        elif message.role == "user":
            out.append({"role": "user", "parts": [_part(p) for p in message.parts]})
    return out


def _part(part: Any) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"text": part.text}
    if isinstance(part, Image) and part.data is not None:
        mime = part.mime_type or f"image/{sniff_image(part.data) or 'png'}"
        return {"inlineData": {"mimeType": mime, "data": base64.b64encode(part.data).decode()}}
    if isinstance(part, Audio):
        mime = part.format if "/" in part.format else f"audio/{part.format}"
        return {"inlineData": {"mimeType": mime, "data": base64.b64encode(part.data).decode()}}
    return {"text": ""}


def _object(content: str) -> dict[str, Any]:
    """A function's result as Gemini wants it: an object (other JSON goes under "result")."""
    try:
        value = json.loads(content)
    except json.JSONDecodeError:
        value = content
    return value if isinstance(value, dict) else {"result": value}


def _config(request: GenerationRequest) -> dict[str, Any]:
    s = request.sampling
    config: dict[str, Any] = {}
    for name, value in (
        ("temperature", s.temperature),
        ("topP", s.top_p),
        ("topK", s.top_k),
        ("seed", s.seed),
        ("maxOutputTokens", s.max_tokens),
    ):
        if value is not None:
            config[name] = value
    if s.presence_penalty:
        config["presencePenalty"] = s.presence_penalty
    if s.frequency_penalty:
        config["frequencyPenalty"] = s.frequency_penalty
    if s.stop:
        config["stopSequences"] = list(s.stop)
    if s.logprobs:
        config["responseLogprobs"] = True
        config["logprobs"] = s.top_logprobs
    if request.thinking.budget is not None:
        config["thinkingConfig"] = {
            "thinkingBudget": request.thinking.budget,
            "includeThoughts": request.thinking.budget != 0,
        }
    if request.image is not None:
        config["responseModalities"] = ["TEXT", "IMAGE"]
    output = request.output
    if isinstance(output, JsonOutput):
        config["responseMimeType"] = "application/json"
        if output.schema is not None:
            config["responseJsonSchema"] = output.schema
    elif isinstance(output, LiteralOutput):
        config["responseMimeType"] = "text/x.enum"
        config["responseSchema"] = {"type": "STRING", "enum": list(output.options)}
    return config


def _tools(use: ToolUse) -> dict[str, Any]:
    declarations = [
        {"name": t.name, "description": t.description, "parametersJsonSchema": t.parameters}
        for t in use.tools
    ]
    mode = {"auto": "AUTO", "required": "ANY", "none": "NONE"}[use.mode]
    calling: dict[str, Any] = {"mode": mode}
    if use.mode != "none" and len(use.allowed) < len(use.tools):
        calling["allowedFunctionNames"] = list(use.allowed)
        calling["mode"] = "ANY" if use.mode == "required" else "VALIDATED"
    return {
        "tools": [{"functionDeclarations": declarations}],
        "toolConfig": {"functionCallingConfig": calling},
    }


class GeminiReader:
    """GenerateContentResponses (whole, or a stream of them) as events, of candidate 0."""

    def __init__(self) -> None:
        self.calls = 0
        self.finish: FinishReason | None = None
        self.usage: Usage | None = None

    def chunk(self, chunk: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        candidate = (chunk.get("candidates") or [{}])[0]
        for part in (candidate.get("content") or {}).get("parts") or []:
            if "functionCall" in part:
                call = part["functionCall"]
                call_id = call.get("id") or f"call_{secrets.token_hex(12)}"
                arguments = json.dumps(call.get("args") or {}, ensure_ascii=False)
                out.append(ToolCall(self.calls, call_id, call.get("name", ""), arguments))
                self.calls += 1
            elif "inlineData" in part:
                inline = part["inlineData"]
                data = base64.b64decode(inline.get("data") or "")
                out.append(ImageData(inline.get("mimeType") or "image/png", data))
            elif part.get("text"):
                out.append(ThoughtDelta(part["text"]) if part.get("thought") else
                           TextDelta(part["text"]))  # fmt: skip
        if reason := candidate.get("finishReason"):
            self.finish = _FINISH.get(reason, "stop")
        if usage := chunk.get("usageMetadata"):
            thoughts = usage.get("thoughtsTokenCount") or 0
            self.usage = Usage(
                prompt_tokens=usage.get("promptTokenCount") or 0,
                completion_tokens=(usage.get("candidatesTokenCount") or 0) + thoughts,
                cached_tokens=usage.get("cachedContentTokenCount") or 0,
                reasoning_tokens=thoughts,
            )
        return out

    def whole(self, reply: dict[str, Any]) -> list[Event]:
        return self.chunk(reply) + self.end()

    def end(self) -> list[Event]:
        finish = self.finish or "stop"
        if finish == "stop" and self.calls:
            finish = "tool_calls"
        return [self.usage or Usage(0, 0), Finish(finish)]
