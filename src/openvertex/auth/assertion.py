"""Verify the signed JWT that google-auth sends to the token endpoint.

PyJWT checks the RS256 signature and the audience; openvertex checks the times
itself, against its own clock, so that tests can move time without sleeping.
"""

from __future__ import annotations

from collections.abc import Iterable

import jwt

from openvertex.store.base import ServiceAccountKey, Store

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
MAX_LIFETIME = 3600
CLOCK_SKEW = 300


class InvalidGrant(Exception):
    """The assertion is refused; the message becomes OAuth2's `error_description`."""


def verify_assertion(
    store: Store, assertion: str, *, audiences: Iterable[str], now: float
) -> ServiceAccountKey:
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise InvalidGrant(f"The assertion is not a well-formed JWT: {exc}") from None
    if header.get("alg") != "RS256":
        raise InvalidGrant(f"Assertions must be signed with RS256, not {header.get('alg')!r}.")
    kid = header.get("kid")
    key = store.get_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidGrant(f"No service-account key has the id {kid!r} (the JWT's kid).")
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
