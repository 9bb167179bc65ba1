"""What a Gemini model name says: its family, its generation, and so Vertex's rules for it.

Google names a new Gemini every few months (`gemini-3-pro-preview`,
`gemini-3.1-flash-lite-preview`…). A family pattern answers each new name of its
tier without a release; a name that is another kind of model under a family's
words (`gemini-2.5-flash-image`, `…-tts`, `…-live`) is not of the family.
"""

from __future__ import annotations

import fnmatch
import re

# Most specific first: a flash-lite name is also a flash name.
FAMILIES = ("gemini-*-flash-lite*", "gemini-*-flash*", "gemini-*-pro*")
_OTHER_KINDS = ("-image", "-tts", "-audio", "-live", "embedding")
_GENERATION = re.compile(r"^gemini-(\d+)(?:\.(\d+))?-")
_DRAWS = ("imagen-*", "gemini-*-image*")
# Vertex's auto-updated aliases and the stable version each answers with (`modelVersion`).
_VERSIONS = {
    "gemini-2.0-flash": "gemini-2.0-flash-001",
    "gemini-2.0-flash-lite": "gemini-2.0-flash-lite-001",
}


def family(name: str) -> str | None:
    """The family pattern a Gemini model name belongs to, if any."""
    if any(kind in name for kind in _OTHER_KINDS):
        return None
    return next((pattern for pattern in FAMILIES if fnmatch.fnmatchcase(name, pattern)), None)


def generation(name: str) -> tuple[int, int] | None:
    """(3, 1) for `gemini-3.1-pro-preview`; None for a name that is not Gemini's."""
    match = _GENERATION.match(name.removeprefix("google/"))
    return (int(match[1]), int(match[2] or 0)) if match else None


def is_gemini_3(name: str) -> bool:
    """Gemini 3 and later: thinking levels, and thought signatures enforced."""
    version = generation(name)
    return version is not None and version >= (3, 0)


def is_pro(name: str) -> bool:
    return family(name.removeprefix("google/")) == "gemini-*-pro*"


def draws(name: str) -> bool:
    """A name of a model that makes images (Imagen, Gemini's image models)."""
    bare = name.removeprefix("google/")
    return any(fnmatch.fnmatchcase(bare, pattern) for pattern in _DRAWS)


def version(name: str) -> str:
    """`modelVersion` as Vertex answers it: the model's own id, an alias resolved."""
    bare = name.rpartition("/")[2]
    return _VERSIONS.get(bare, bare)
