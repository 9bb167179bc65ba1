"""OpenAI's chat completions API, as vLLM, llama.cpp, SGLang and openvertex serve it."""

from __future__ import annotations

from typing import Any

from openvertex.core.events import Event
from openvertex.core.request import GenerationRequest
from openvertex.engines.base import Token
from openvertex.engines.upstream.api import Post
from openvertex.engines.upstream.images import drawn, images_body
from openvertex.engines.upstream.pool import Replica
from openvertex.engines.upstream.replies import ReplyReader
from openvertex.engines.upstream.requests import Dialect, chat_body
from openvertex.errors import InvalidArgument


class OpenAICompat:
    probe_path = "/models"

    def __init__(
        self,
        model: str,
        dialect: Dialect,
        *,
        prompted_tools: bool = False,
        llguidance: bool = False,
        vision: bool = False,
        draws: bool = False,
    ) -> None:
        self.model = model
        self.dialect = dialect
        self.modalities: tuple[str, ...] = ("text", "image") if vision else ("text",)
        self.output_modalities: tuple[str, ...] = ("text", "image") if draws else ("text",)
        self.prompted_tools = prompted_tools or llguidance
        self.llguidance = llguidance

    @property
    def details(self) -> dict[str, str]:
        return {
            "dialect": self.dialect,
            "tools": "prompted (tools in the system turn, calls parsed by openvertex)"
            if self.prompted_tools
            else "native (the upstream parses calls)",
            "grammars": "openvertex's own (llguidance)" if self.llguidance else "the upstream's",
        }

    @property
    def compiles(self) -> bool:
        return self.llguidance  # an llguidance grammar is openvertex's own: its 400s first

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        return chat_body(
            request,
            self.model,
            self.dialect,
            prompted_tools=self.prompted_tools,
            llguidance=self.llguidance,
        )

    def url(self, replica: Replica, stream: bool) -> str:
        return f"{replica.url}/chat/completions"  # `stream` is in the body

    def reader(self) -> ReplyReader:
        return ReplyReader()

    async def draw(self, request: GenerationRequest, post: Post) -> list[Event]:
        reply = await post(
            lambda r: f"{r.url}/images/generations", images_body(request, self.model)
        )
        return drawn(reply)

    async def count_tokens(self, request: GenerationRequest, post: Post) -> int:
        text = request.own_text
        if self.dialect in ("vllm", "sglang"):
            ask = {"model": self.model, "prompt": text, "add_special_tokens": False}
            return int((await post(lambda r: f"{r.root}/tokenize", ask))["count"])
        if self.dialect == "llamacpp":
            reply = await post(lambda r: f"{r.root}/tokenize", {"content": text})
            return len(reply["tokens"])
        raise InvalidArgument(
            f"Counting tokens is not available over a {self.dialect} upstream.", param="model"
        )

    async def tokenize(self, text: str, post: Post) -> list[Token]:
        if self.dialect != "llamacpp":
            raise InvalidArgument(
                f"Computing tokens is not available over a {self.dialect} upstream.", param="model"
            )
        ask = {"content": text, "with_pieces": True}
        reply = await post(lambda r: f"{r.root}/tokenize", ask)
        return [Token(t["id"], _piece(t["piece"])) for t in reply["tokens"]]


def _piece(piece: str | list[int]) -> bytes:
    return piece.encode() if isinstance(piece, str) else bytes(piece)
