"""Who is calling, resolved once per request: the seam authentication plugs into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

DEFAULT_PROJECT = "default"


@dataclass(frozen=True, slots=True)
class Principal:
    project: str
    subject: str


async def get_principal(request: Request) -> Principal:
    """Until auth lands, every caller is anonymous in the project its URL names."""
    return Principal(
        project=request.path_params.get("project", DEFAULT_PROJECT), subject="anonymous"
    )


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
