"""Access tokens and API keys: random secrets, kept only as SHA-256 hashes.

A presented secret is hashed and looked up by that hash, so nothing compares a
secret string against stored ones (no timing leak).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from openvertex.errors import PermissionDenied, Unauthenticated
from openvertex.store.base import ApiKey, ServiceAccountKey, Store

ACCESS_TOKEN_TTL = 3600
API_KEY_PREFIX = "AIza"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_access_token(store: Store, key: ServiceAccountKey, *, now: float) -> tuple[str, int]:
    """A 256-bit bearer token for `key`'s service account; returns it and `expires_in`."""
    token = "ya29." + secrets.token_urlsafe(32)
    store.add_access_token(digest(token), key.key_id, now + ACCESS_TOKEN_TTL)
    return token, ACCESS_TOKEN_TTL - 1


def create_api_key(
    store: Store, *, project: str, now: float, admin: bool = False
) -> tuple[str, ApiKey]:
    """A new key, returned once; an admin key may act in any project and use the console."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(key_id=secrets.token_hex(6), project=project, created_at=now, admin=admin)
    store.add_api_key(digest(secret), record)
    return secret, record


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and the project the request acts in."""

    project: str
    subject: str
    admin: bool = False  # an admin API key, or anyone under --no-auth


_MISSING = (
    "The request has no credentials. Send 'Authorization: Bearer <access token>' "
    "(from google-auth) or an API key in 'x-goog-api-key'."
)
_INVALID = "The request's credentials are not valid. Expected an OAuth 2 access token or API key."


def authenticate(
    store: Store,
    *,
    authorization: str | None,
    api_key: str | None,
    project: str | None,
    now: float,
    url_key: str | None = None,
) -> Principal:
    """Resolve the caller, and check that it may act in `project` (from the URL).
    `url_key`: an API key sent as `?key=`; the `x-goog-api-key` header wins over it."""
    if api_key is None and url_key is not None:
        principal = _by_api_key(store, url_key, project)
        if principal.admin:  # a URL is kept by proxies, logs and browser history
            raise PermissionDenied(
                "An admin API key is not accepted in the URL (?key=); send it in the "
                "'x-goog-api-key' header.",
                reason="API_KEY_IN_URL",
            )
        return principal
    if api_key is None and authorization is not None:
        scheme, _, credential = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated(_INVALID, reason="ACCESS_TOKEN_TYPE_UNSUPPORTED")
        credential = credential.strip()
        if credential.startswith(API_KEY_PREFIX):
            api_key = credential
        else:
            return _by_token(store, credential, project, now)
    if api_key is None:
        raise Unauthenticated(_MISSING, reason="CREDENTIALS_MISSING")
    return _by_api_key(store, api_key, project)


def _by_token(store: Store, token: str, project: str | None, now: float) -> Principal:
    grant = store.find_access_token(digest(token))
    if grant is None or grant.key_revoked:
        raise Unauthenticated(_INVALID, reason="ACCESS_TOKEN_TYPE_UNSUPPORTED")
    if grant.expires_at <= now:
        raise Unauthenticated(
            "The access token has expired; refresh the credentials for a new one.",
            reason="ACCESS_TOKEN_EXPIRED",
        )
    if project and project != grant.project and not store.is_granted(project, grant.email):
        raise PermissionDenied(
            f"{grant.email} has no permission on project {project!r}.",
            reason="IAM_PERMISSION_DENIED",
        )
    return Principal(project=project or grant.project, subject=grant.email)


def _by_api_key(store: Store, secret: str, project: str | None) -> Principal:
    record = store.find_api_key(digest(secret))
    if record is None or record.revoked_at is not None:
        raise Unauthenticated("The API key is not valid.", reason="API_KEY_INVALID")
    if record.admin:
        return Principal(project or record.project, f"apikey:{record.key_id}", admin=True)
    if project and project != record.project:
        raise PermissionDenied(
            f"API key {record.key_id} belongs to project {record.project!r}, not {project!r}.",
            reason="IAM_PERMISSION_DENIED",
        )
    return Principal(project=record.project, subject=f"apikey:{record.key_id}")
