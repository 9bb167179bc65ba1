"""Strict-but-forgiving base64 for media sent inline in a request."""

from __future__ import annotations

import base64
import binascii

from openvertex.media.errors import MediaError


def decode_base64(text: str, what: str) -> bytes:
    """Decode standard base64, tolerating line breaks and missing padding.

    Clients often wrap base64 at 76 columns or drop the trailing `=`; anything else
    outside the alphabet is refused rather than silently skipped.
    """
    compact = "".join(text.split())
    if not compact:
        raise MediaError(f"{what} is empty")
    compact += "=" * (-len(compact) % 4)
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise MediaError(f"{what} is not valid base64") from None
    if not data:
        raise MediaError(f"{what} is empty")
    return data
