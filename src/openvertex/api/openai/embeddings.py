"""`POST .../embeddings`: OpenAI's Embeddings API, under Vertex's paths and the plain one.

The `openai` SDK asks for base64 unless told otherwise (little-endian float32,
which it decodes itself), so both encodings are served. Token arrays are refused:
they are ids of the client's tokenizer (tiktoken's, for LangChain), meaningless here.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import APIRouter, Request

from openvertex.api.body import parse_body
from openvertex.api.context import Context
from openvertex.api.deps import BilledCaller
from openvertex.api.generation import served_model, unless_disconnected
from openvertex.api.openai.docs import EMBEDDINGS_DOCS
from openvertex.api.openai.paths import route
from openvertex.api.openai.request import EmbeddingsBody
from openvertex.core.embedding import Embedding, EmbeddingInput, EmbeddingRequest
from openvertex.errors import InvalidArgument

router = APIRouter()


@route(router, "POST", "/embeddings", **EMBEDDINGS_DOCS)
async def create_embeddings(request: Request, principal: BilledCaller, ctx: Context) -> Any:
    ctx.service.check_room()
    body = await parse_body(request, EmbeddingsBody, ctx.service.registry)
    served = served_model(request, ctx.service, body.model)
    embedding = EmbeddingRequest(
        model=body.model, inputs=_inputs(body.input), dimensions=body.dimensions
    )
    work = ctx.service.embed(served, embedding, principal, request.state.record)
    vectors = await unless_disconnected(request, work)
    tokens = sum(vector.tokens for vector in vectors)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
            for i, v in enumerate(vectors)
        ],
        "model": body.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _inputs(value: str | list[str] | list[int] | list[list[int]]) -> tuple[EmbeddingInput, ...]:
    texts = [value] if isinstance(value, str) else value
    if any(not isinstance(text, str) for text in texts):
        raise InvalidArgument(
            "`input` holds token ids; send the texts themselves. Token ids are your "
            "tokenizer's, not this model's (LangChain: set check_embedding_ctx_length=False).",
            param="input",
        )
    return tuple(EmbeddingInput(text, where=f"input[{i}]") for i, text in enumerate(texts))  # type: ignore[arg-type]  # all str: checked just above


def _encode(vector: Embedding, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector.values, dtype="<f4").tobytes()).decode()
    return list(vector.values)
