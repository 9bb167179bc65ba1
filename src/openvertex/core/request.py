"""The one wire-neutral request every engine serves: intent, not artefacts.

A wire adapter (OpenAI's chat completions, Gemini's generateContent) parses its
own format into a `GenerationRequest`; an engine compiles the intent its own way
(llama.cpp into grammars and prompt text, an upstream into its own API). So
nothing here knows HTTP, a wire format, or an engine.

Parts and intents that came from the request carry `where`: the field a client
sent them in (`messages[1].content[0]`, `contents[0].parts[1]`), so that an
error found later, by the media cascade or an engine, still names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Image:
    """An image, as bytes (with the MIME type the client declared, if any) or as a URL."""

    data: bytes | None = None
    url: str | None = None
    mime_type: str | None = None
    where: str = ""


@dataclass(frozen=True, slots=True)
class Audio:
    """Audio bytes in `format` (`wav`, `audio/mpeg`, …: the client's own word for it)."""

    data: bytes
    format: str
    where: str = ""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One complete function call; `arguments` is a JSON object as text.

    A part of an assistant turn in the conversation, and the event an engine yields
    for each call it makes (`index`: its place among the reply's calls).
    """

    index: int
    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a called function returned; `call_id` ties it to its call when the wire has ids."""

    content: str
    call_id: str | None = None
    name: str | None = None


Part = Text | Image | Audio | ToolCall | ToolResult


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    parts: tuple[Part, ...] = ()
    name: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.parts if isinstance(p, Text))

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolCall))

    @property
    def tool_results(self) -> tuple[ToolResult, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolResult))

    @property
    def media(self) -> tuple[Image | Audio, ...]:
        return tuple(p for p in self.parts if isinstance(p, Image | Audio))


@dataclass(frozen=True, slots=True)
class Sampling:
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    max_tokens: int | None = None  # thoughts and answer together
    logprobs: bool = False
    top_logprobs: int = 0


@dataclass(frozen=True, slots=True)
class DefaultSampling:
    """The sampling a model's authors recommend; a request's own values win."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repeat_penalty: float | None = None


@dataclass(frozen=True, slots=True)
class Thinking:
    """How long the model may think, and whether its thoughts are shown.

    `budget`: None = the model's default, 0 = no thinking, -1 = the model decides
    (bounded by the context), N = at most N thinking tokens. `level`: an effort level
    asked for instead (given at `where`), which the served model turns into its budget.
    """

    budget: int | None = None
    include_thoughts: bool = False
    level: str | None = None
    where: str = "reasoning_effort"


@dataclass(frozen=True, slots=True)
class JsonOutput:
    """The answer must be JSON valid under `schema`; any JSON object when `schema` is None.

    `strict`: a keyword that cannot be enforced is an error, not ignored.
    `name` and `description` say what the JSON is, for engines that tell the model.
    """

    schema: dict[str, Any] | None = None
    strict: bool = False
    name: str | None = None
    description: str | None = None
    where: str = "response_format"


@dataclass(frozen=True, slots=True)
class LiteralOutput:
    """The answer must be exactly one of these texts (an extracted transcript, an enum)."""

    options: tuple[str, ...]


Output = JsonOutput | LiteralOutput


@dataclass(frozen=True, slots=True)
class ImageOutput:
    """The answer is to be a drawing: of the last user turn's text, `size` as "WxH"."""

    size: str | None = None
    where: str = "modalities"


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # a JSON Schema of an object
    strict: bool = False
    where: str = "tools"


@dataclass(frozen=True, slots=True)
class ToolUse:
    """The tools of one request and what the model must do with them.

    `none`: it sees them but calls none; `auto`: it may call one of `allowed` or
    answer in text; `required`: it must call one of `allowed` (one name: that one).
    """

    tools: tuple[Tool, ...]
    mode: Literal["auto", "required", "none"]
    allowed: tuple[str, ...]
    parallel: bool = True

    @property
    def callable(self) -> bool:
        return self.mode != "none"


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    model: str  # the name the client asked for
    messages: tuple[Message, ...]
    sampling: Sampling = field(default_factory=Sampling)
    candidates: int = 1
    thinking: Thinking = field(default_factory=Thinking)
    output: Output | None = None  # the answer (never the thoughts) must match it
    tools: ToolUse | None = None
    image: ImageOutput | None = None  # an image is wanted, not text
    # The caller takes the reply as it comes. A whole reply has sent nothing until it is
    # done, so an engine may still retry it elsewhere after a failure half-way.
    stream: bool = False
    # Who may reuse what this request leaves in an engine's prompt cache: its project.
    cache_scope: str = ""
    # A legacy completion: the model continues this text as is (no chat template, no
    # system turn, no thinking); `messages` is empty.
    prompt: str | None = None

    @property
    def media(self) -> tuple[Image | Audio, ...]:
        return tuple(part for message in self.messages for part in message.media)

    @property
    def own_text(self) -> str:
        """What the request itself says, one piece a line, with no chat template around
        it: its turns' text, calls and results, and its tools' declarations (what
        Vertex's countTokens counts)."""
        pieces: list[str] = [self.prompt] if self.prompt is not None else []
        for message in self.messages:
            for part in message.parts:
                if isinstance(part, Text):
                    pieces.append(part.text)
                elif isinstance(part, ToolCall):
                    pieces += (part.name, part.arguments)
                elif isinstance(part, ToolResult):
                    pieces.append(part.content)
        for tool in self.tools.tools if self.tools else ():
            pieces += (tool.name, tool.description, json.dumps(tool.parameters))
        return "\n".join(piece for piece in pieces if piece)
