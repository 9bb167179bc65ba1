"""Text embeddings from a GGUF embedding model, in a llama.cpp runner process.

The model loads on first use: the default's weights are inflated from their
packages then, and a server that never embeds never pays for them. Each text is
tokenized first, so that its token count is known (for quotas, limits and
`autoTruncate`) and a long one can be cut at a token boundary; llama.cpp then
embeds the token ids, several texts at once across its slots.

A task is compiled the way the model was trained: nomic-embed-text-v1.5 wants a
prefix (`search_query: `, `search_document: `, `clustering: `,
`classification: `), and its Matryoshka training makes a shorter vector
meaningful when taken as its authors say: layer norm, cut, then unit length.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from openvertex.core.embedding import (
    MAX_REQUEST_TOKENS,
    Embedding,
    EmbeddingInput,
    EmbeddingRequest,
)
from openvertex.engines.base import Capabilities
from openvertex.engines.llamacpp.residency import Residency, Resident
from openvertex.engines.llamacpp.runner import XLLAMACPP, Params, Runner
from openvertex.errors import Internal, InvalidArgument

BATCH = 8  # texts per llama.cpp call: a client that leaves stops the work after one


@dataclass(frozen=True, slots=True)
class Recipe:
    """How a model was trained to be used."""

    prefixes: dict[str, str] = field(default_factory=dict)  # task type → text prefix
    matryoshka: bool = False  # a cut vector keeps its meaning
    title: str = "{title}\n{text}"


NOMIC = Recipe(
    prefixes={
        "RETRIEVAL_QUERY": "search_query: ",
        "RETRIEVAL_DOCUMENT": "search_document: ",
        "QUESTION_ANSWERING": "search_query: ",
        "FACT_VERIFICATION": "search_query: ",
        "CODE_RETRIEVAL_QUERY": "search_query: ",
        "SEMANTIC_SIMILARITY": "clustering: ",
        "CLUSTERING": "clustering: ",
        "CLASSIFICATION": "classification: ",
    },
    matryoshka=True,
)


def recipe_for(weights: str) -> Recipe:
    return NOMIC if weights.startswith("nomic-embed-text") else Recipe()


class LlamaCppEmbedder:
    def __init__(
        self,
        weights: Callable[[], Path],
        name: str,
        *,
        footprint: int,
        residency: Residency,
        parallel: int = 4,
        context: int = 2048,
        threads: int | None = None,
    ) -> None:
        self._weights = weights
        self.name = name  # what the weights are called before they are found
        self.recipe = recipe_for(name)
        self.parallel = parallel
        self.context = context  # tokens per text, special tokens included
        self._dimensions = 0
        runner = Runner(name, self._params, threads)
        self.resident = Resident(runner, footprint, residency, self._learn)

    @property
    def ready(self) -> bool:
        return True  # it loads on first use

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            backend=f"llama.cpp (xllamacpp {XLLAMACPP}, runner process, CPU)",
            weights=self.name,
            context_window=self.context,
            slots=self.parallel,
            output_modalities=("embedding",),
            details={
                "dimensions": str(self._dimensions or "known once loaded"),
                "loaded": "yes" if self.resident.loaded else "no: loads on first use",
                "task_types": "prefixes the model was trained with"
                if self.recipe.prefixes
                else "ignored: the model has no task prefixes",
            },
        )

    async def start(self) -> None:
        """Nothing yet: the model loads on first use."""

    async def close(self) -> None:
        await self.resident.runner.stop()

    async def embed(self, request: EmbeddingRequest) -> list[Embedding]:
        """One vector per input; a text over the model's limit is cut, or refused."""
        async with self.resident.use() as runner:
            return await self._embed_loaded(runner, request)

    async def _embed_loaded(self, runner: Runner, request: EmbeddingRequest) -> list[Embedding]:
        if request.dimensions is not None and request.dimensions > self._dimensions:
            raise InvalidArgument(
                f"{request.dimensions_param} is {request.dimensions}; this model's vectors "
                f"have {self._dimensions} dimensions.",
                param=request.dimensions_param,
            )
        texts = [self._text(item) for item in request.inputs]
        tokens, cut = self._fit(await _tokenize(runner, texts), request)
        raw = await _embed(runner, tokens)
        vectors = self._shape(raw, request.dimensions)
        return [
            Embedding(tuple(vector.tolist()), len(ids), was_cut)
            for vector, ids, was_cut in zip(vectors, tokens, cut, strict=True)
        ]

    def _params(self) -> Params:
        """The runner's settings (blocking: the default's weights inflate on first use)."""
        return {
            "model.path": str(self._weights()),
            "embedding": True,
            "n_parallel": self.parallel,
            "n_ctx": self.parallel * self.context,
            "n_batch": self.context,  # a text is embedded in one batch
            "n_ubatch": self.context,
        }

    async def _learn(self, runner: Runner) -> None:
        probe = await runner.call("/v1/embeddings", {"input": [[0]]})
        self._dimensions = len(probe["data"][0]["embedding"])

    def _text(self, item: EmbeddingInput) -> str:
        text = item.text
        if item.title:
            text = self.recipe.title.format(title=item.title, text=text)
        return self.recipe.prefixes.get(item.task, "") + text

    def _fit(
        self, tokens: list[list[int]], request: EmbeddingRequest
    ) -> tuple[list[list[int]], list[bool]]:
        """Cut each text to the model's limit (keeping its closing special token), or refuse."""
        fitted, cut = [], []
        for ids, item in zip(tokens, request.inputs, strict=True):
            if len(ids) <= self.context:
                fitted.append(ids)
                cut.append(False)
                continue
            if not request.auto_truncate:
                raise InvalidArgument(
                    f"The text is {len(ids)} tokens, more than this model's {self.context}; "
                    "shorten it or allow truncation (autoTruncate).",
                    param=item.where,
                )
            fitted.append([*ids[: self.context - 1], ids[-1]])
            cut.append(True)
        if (total := sum(map(len, fitted))) > MAX_REQUEST_TOKENS:
            raise InvalidArgument(
                f"The texts are {total} tokens in all; a request may hold {MAX_REQUEST_TOKENS}. "
                "Send them in several requests."
            )
        return fitted, cut

    def _shape(self, raw: np.ndarray, dimensions: int | None) -> np.ndarray:
        """Unit vectors of the asked size; a Matryoshka model is layer-normed before the cut."""
        if dimensions is not None and dimensions < raw.shape[1]:
            if self.recipe.matryoshka:
                mean = raw.mean(axis=1, keepdims=True)
                raw = (raw - mean) / np.sqrt(raw.var(axis=1, keepdims=True) + 1e-5)
            raw = raw[:, :dimensions]
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return raw / np.maximum(norms, 1e-12)


async def _tokenize(runner: Runner, texts: list[str]) -> list[list[int]]:
    """The token ids of each text, `BATCH` calls at a time."""
    tokens: list[list[int]] = []
    for start in range(0, len(texts), BATCH):
        bodies = ({"content": text, "add_special": True} for text in texts[start : start + BATCH])
        replies = await asyncio.gather(*(runner.call("/tokenize", body) for body in bodies))
        tokens.extend(reply["tokens"] for reply in replies)
    return tokens


async def _embed(runner: Runner, tokens: list[list[int]]) -> np.ndarray:
    """Several texts per call; a client that leaves stops the work after the current one."""
    rows: list[list[float]] = []
    for start in range(0, len(tokens), BATCH):
        body = {"input": tokens[start : start + BATCH], "embd_normalize": -1}
        reply = await runner.call("/v1/embeddings", body)
        if "error" in reply:
            raise Internal(f"llama.cpp failed: {reply['error'].get('message')}")
        rows.extend(item["embedding"] for item in sorted(reply["data"], key=_index))
    return np.asarray(rows, dtype=np.float64)


def _index(item: dict) -> int:
    return item["index"]
