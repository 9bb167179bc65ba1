"""The one wire-neutral embedding request, and what an embedder gives back.

OpenAI's `/embeddings` and Vertex's `:predict`, `:embedContent` and
`:batchEmbedContents` all parse into an `EmbeddingRequest`; an embedder compiles
the task into whatever its model was trained on (a prefix, a title line).
"""

from __future__ import annotations

from dataclasses import dataclass

# Vertex's task types. An embedder maps each onto its model's own convention.
TASK_TYPES = (
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)
DEFAULT_TASK = "RETRIEVAL_QUERY"  # Vertex's default when a request names none
MAX_INPUTS = 250  # texts per request, as on Vertex
MAX_REQUEST_TOKENS = 20_000  # tokens per request, as on Vertex


@dataclass(frozen=True, slots=True)
class EmbeddingInput:
    text: str
    task: str = DEFAULT_TASK
    title: str | None = None  # RETRIEVAL_DOCUMENT only
    where: str = "input"  # the field the client sent it in, for errors


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    model: str
    inputs: tuple[EmbeddingInput, ...]
    dimensions: int | None = None  # None: the model's full size
    auto_truncate: bool = True  # False: a text over the model's limit is a 400
    dimensions_param: str = "dimensions"  # the wire's name for it, for errors


@dataclass(frozen=True, slots=True)
class Embedding:
    values: tuple[float, ...]
    tokens: int  # what the model read, after truncation
    truncated: bool = False
