"""Text embeddings from a GGUF embedding model, in process through xllamacpp.

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
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xllamacpp

from openvertex.core.embedding import (
    MAX_REQUEST_TOKENS,
    Embedding,
    EmbeddingInput,
    EmbeddingRequest,
)
from openvertex.engines.base import Capabilities
from openvertex.engines.llamacpp.listener import LockedServer
from openvertex.engines.llamacpp.residency import Residency, Resident
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
        self.threads = threads
        self._server: LockedServer | None = None
        self._dimensions = 0
        self.resident = Resident(name, footprint, self._load, self._unload, residency)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="embed")

    @property
    def ready(self) -> bool:
        return True  # it loads on first use

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            backend=f"llama.cpp (xllamacpp {xllamacpp.__version__}, in process, CPU)",
            weights=self.name,
            context_window=self.context,
            slots=self.parallel,
            output_modalities=("embedding",),
            tools="none",
            thinking="none",
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
        self._server = None  # xllamacpp stops its loop when the Server is destroyed
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def embed(self, request: EmbeddingRequest) -> list[Embedding]:
        """One vector per input; a text over the model's limit is cut, or refused."""
        async with self.resident.use():
            return await self._embed_loaded(request)

    async def _embed_loaded(self, request: EmbeddingRequest) -> list[Embedding]:
        server = self._server
        assert server is not None
        if request.dimensions is not None and request.dimensions > self._dimensions:
            raise InvalidArgument(
                f"{request.dimensions_param} is {request.dimensions}; this model's vectors "
                f"have {self._dimensions} dimensions.",
                param=request.dimensions_param,
            )
        loop = asyncio.get_running_loop()
        texts = [self._text(item) for item in request.inputs]
        tokens = await loop.run_in_executor(self._pool, self._tokenize, server, texts)
        tokens, cut = self._fit(tokens, request)
        stop = threading.Event()
        try:
            raw = await loop.run_in_executor(self._pool, self._embed, server, tokens, stop)
        finally:
            stop.set()  # the client left: the thread stops after its current batch
        vectors = self._shape(raw, request.dimensions)
        return [
            Embedding(tuple(vector.tolist()), len(ids), was_cut)
            for vector, ids, was_cut in zip(vectors, tokens, cut, strict=True)
        ]

    def _unload(self) -> None:
        self._server = None  # xllamacpp stops its loop when the Server is destroyed

    def _load(self) -> None:
        params = xllamacpp.CommonParams()
        path = self._weights()
        params.model.path = str(path)
        params.embedding = True
        params.n_parallel = self.parallel
        params.n_ctx = self.parallel * self.context
        params.n_batch = params.n_ubatch = self.context  # a text is embedded in one batch
        if self.threads:
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
        params.verbosity = 2
        server = LockedServer(params)
        probe = server.server.handle_embeddings({"input": [[0]]})
        self._dimensions = len(probe["data"][0]["embedding"])
        self._server = server

    def _text(self, item: EmbeddingInput) -> str:
        text = item.text
        if item.title:
            text = self.recipe.title.format(title=item.title, text=text)
        return self.recipe.prefixes.get(item.task, "") + text

    @staticmethod
    def _tokenize(server: LockedServer, texts: list[str]) -> list[list[int]]:
        bodies = ({"content": text, "add_special": True} for text in texts)
        return [server.call("/tokenize", body)["tokens"] for body in bodies]

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

    @staticmethod
    def _embed(server: LockedServer, tokens: list[list[int]], stop: threading.Event) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(tokens), BATCH):
            if stop.is_set():
                break
            body = {"input": tokens[start : start + BATCH], "embd_normalize": -1}
            reply = server.server.handle_embeddings(body)
            if "error" in reply:
                raise Internal(f"llama.cpp failed: {reply['error'].get('message')}")
            rows.extend(item["embedding"] for item in sorted(reply["data"], key=_index))
        return np.asarray(rows, dtype=np.float64)

    def _shape(self, raw: np.ndarray, dimensions: int | None) -> np.ndarray:
        """Unit vectors of the asked size; a Matryoshka model is layer-normed before the cut."""
        if dimensions is not None and dimensions < raw.shape[1]:
            if self.recipe.matryoshka:
                mean = raw.mean(axis=1, keepdims=True)
                raw = (raw - mean) / np.sqrt(raw.var(axis=1, keepdims=True) + 1e-5)
            raw = raw[:, :dimensions]
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return raw / np.maximum(norms, 1e-12)


def _index(item: dict) -> int:
    return item["index"]
