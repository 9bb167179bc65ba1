"""Thought signatures: the opaque token Gemini 3 puts on a function call, checked on replay.

Vertex returns a `thoughtSignature` with the function calls of a Gemini 3 model and
refuses a history that replays the current turn's calls without theirs, the most
common bug in code moved to Gemini 3. openvertex signs each call it returns with a
MAC over the model, the function and its arguments, under a key kept in the store
(so every replica checks what another signed), and holds a replayed history to
Vertex's rules, so code that drops or edits a signature fails here as it does there.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from typing import Any

from openvertex.core.request import ToolCall
from openvertex.errors import InvalidArgument
from openvertex.serving import gemini_models

LEARN_MORE = "https://docs.cloud.google.com/vertex-ai/generative-ai/docs/thought-signatures"
# The values Google documents for a call the client made itself, or a history from another
# model: the check is skipped (Vertex's docs name the first, the Gemini API's the second).
SKIP = frozenset({"skip_thought_signature_validator", "context_engineering_is_the_way_to_go"})
_VERSION = b"\x01"
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")


class ThoughtSignatures:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def signer(self, model: str) -> Callable[[ToolCall], str] | None:
        """How a reply on `model` signs its calls: on Gemini 3 names, as Vertex does."""
        return functools.partial(self.sign, model) if gemini_models.is_gemini_3(model) else None

    def sign(self, model: str, call: ToolCall) -> str:
        """The signature of one call the model made, as base64 (the wire's bytes)."""
        return base64.b64encode(self._mac(model, call.name, _arguments(call.arguments))).decode()

    def check(self, model: str, name: str, args: Any, signature: str, where: str) -> None:
        """A 400 unless `signature` is the one made for this call on this model (or a
        documented skip value)."""
        if signature in SKIP:
            return
        raw = _decode(signature, where)
        if raw.decode("latin-1") in SKIP:  # the skip value sent as bytes by an SDK
            return
        if isinstance(args, str):  # the OpenAI wire's arguments, as JSON text
            args = _arguments(args)
        if not hmac.compare_digest(raw, self._mac(model, name, args)):
            raise InvalidArgument("Corrupted thought signature.", param=where)

    def _mac(self, model: str, name: str, args: Any) -> bytes:
        message = json.dumps([model.removeprefix("google/"), name, _canonical(args)],
                             sort_keys=True, ensure_ascii=False, separators=(",", ":"))  # fmt: skip
        return _VERSION + hmac.new(self._key, message.encode(), hashlib.sha256).digest()


def missing_signature(name: str, content: int, where: str) -> InvalidArgument:
    """Vertex's refusal of a replayed call without its signature (`content`: from 0)."""
    return InvalidArgument(
        f"Unable to submit request because function call `default_api:{name}` in the "
        f"{content + 1}. content block is missing a `thought_signature`. Learn more: {LEARN_MORE}",
        param=where,
    )


def _decode(signature: str, where: str) -> bytes:
    """Base64 as protobuf's JSON reads bytes: standard or URL-safe, padded or not."""
    compact = signature.strip()
    try:
        if not _BASE64.match(compact):
            raise ValueError
        compact = compact.rstrip("=").replace("-", "+").replace("_", "/")
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        field = where.replace("thoughtSignature", "thought_signature")
        raise InvalidArgument(
            f"Invalid value at '{field}' (TYPE_BYTES), Base64 decoding failed for "
            f"{signature[:64]!r}",
            param=where,
        ) from None


def _arguments(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _canonical(value: Any) -> Any:
    """Arguments as any JSON reader returns them: a whole float is the integer it equals
    (JavaScript clients send 2.0 back as 2)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value
