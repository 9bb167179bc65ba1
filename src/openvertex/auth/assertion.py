"""Verify the signed JWT that google-auth sends to the token endpoint.

PyJWT checks the RS256 signature and the audience; openvertex checks the times
itself, against its own clock, so that tests can move time without sleeping.
Anyone may send an assertion, so its size and the nesting of its JSON are bounded
before anything parses it: deep nesting would otherwise reach Python's recursion
limit (a 500 with PyJWT before 2.10), and a google-auth assertion is a flat ~1 KiB.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

import jwt

from openvertex.store.base import ServiceAccountKey, Store

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
MAX_LIFETIME = 3600
CLOCK_SKEW = 300
MAX_ASSERTION_BYTES = 8 * 1024
MAX_JSON_DEPTH = 8


class InvalidGrant(Exception):
    """The assertion is refused; the message becomes OAuth2's `error_description`."""


def _json_depth(text: bytes, limit: int) -> int:
    """How deep JSON's arrays and objects nest, counting no further than `limit + 1`."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif byte in b"]}":
            depth -= 1
    return deepest


def check_shape(assertion: str) -> None:
    """Refuse an assertion too long, or whose header or claims nest too deep, unparsed."""
    if len(assertion) > MAX_ASSERTION_BYTES:
        raise InvalidGrant(f"The assertion is longer than {MAX_ASSERTION_BYTES} bytes.")
    for name, segment in zip(("header", "claims"), assertion.split(".")[:2], strict=False):
        try:
            text = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except (binascii.Error, ValueError):
            raise InvalidGrant(f"The assertion's {name} is not base64url.") from None
        if _json_depth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise InvalidGrant(f"The assertion's {name} nests deeper than {MAX_JSON_DEPTH}.")


def _shown(value: object) -> str:
    """A client's value in a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def verify_assertion(
    store: Store, assertion: str, *, audiences: Iterable[str], now: float
) -> ServiceAccountKey:
    check_shape(assertion)
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise InvalidGrant(f"The assertion is not a well-formed JWT: {exc}") from None
    if (alg := header.get("alg")) != "RS256":
        raise InvalidGrant(f"Assertions must be signed with RS256, not {_shown(alg)}.")
    kid = header.get("kid")
    key = store.get_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidGrant(f"No service-account key has the id {_shown(kid)} (the JWT's kid).")
    if key.revoked_at is not None:
        raise InvalidGrant(f"Service-account key {kid} has been revoked.")
    try:
        claims = jwt.decode(
            assertion,
            key.public_key,
            algorithms=["RS256"],
            audience=list(audiences),
            options={
                "require": ["iss", "aud", "iat", "exp"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise InvalidGrant("The assertion's signature does not match the key.") from None
    except jwt.InvalidAudienceError:
        raise InvalidGrant("The assertion's aud is not this token endpoint.") from None
    except jwt.PyJWTError as exc:
        raise InvalidGrant(f"The assertion is not valid: {exc}") from None

    if claims["iss"] != key.email:
        raise InvalidGrant(f"The assertion's iss must be {key.email}, the key's service account.")
    iat, exp = claims["iat"], claims["exp"]
    if not all(isinstance(t, int | float) for t in (iat, exp)):
        raise InvalidGrant("The assertion's iat and exp must be numbers.")
    if not 0 < exp - iat <= MAX_LIFETIME:
        raise InvalidGrant("The assertion must live at most one hour (exp - iat <= 3600).")
    if exp < now - CLOCK_SKEW:
        raise InvalidGrant("The assertion has expired; check the clock (exp is in the past).")
    if iat > now + CLOCK_SKEW:
        raise InvalidGrant("The assertion was issued in the future; check the clock (iat).")
    scopes = str(claims.get("scope", "")).split()
    if CLOUD_PLATFORM_SCOPE not in scopes:
        raise InvalidGrant(f"The assertion's scope must include {CLOUD_PLATFORM_SCOPE}.")
    return key
