"""Where the OpenAI-compatible routes live: OpenAI's own path, and Vertex's under each version.

Vertex serves its OpenAI-compatible endpoint under `v1` and `v1beta1` alike; a client
pointed at either (or at a plain OpenAI base URL) reaches the same handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

VERSIONS = ("v1", "v1beta1")
VERTEX_PREFIX = "/{version}/projects/{{project}}/locations/{{location}}/endpoints/openapi"


def paths(suffix: str) -> list[str]:
    """`/v1/chat/completions`, then Vertex's path of it under each version."""
    vertex = [VERTEX_PREFIX.format(version=version) + suffix for version in VERSIONS]
    return [f"/v1{suffix}", *vertex]


def route(
    router: APIRouter, method: str, suffix: str, **docs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated handler under every path of `suffix`."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        for path in paths(suffix):
            router.add_api_route(path, handler, methods=[method], **docs)
        return handler

    return register
