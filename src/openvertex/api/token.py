"""`POST /token`: the OAuth2 endpoint that service-account key files point at.

It speaks OAuth2's wire format, not the API's error envelope: google-auth reads
`{"error": "invalid_grant", "error_description": ...}` into a RefreshError. Anyone may
call it, so its form is capped small (a google-auth request is under 1 KiB) and refused
with a 413 before it is read whole; the connection is then closed, not drained.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool

from openvertex.api.context import Context
from openvertex.api.openapi import NO_STORE_DOCS, REF_TEMPLATE, errors, ref
from openvertex.auth.assertion import InvalidGrant, verify_assertion
from openvertex.auth.credentials import issue_access_token
from openvertex.auth.service_accounts import GOOGLE_TOKEN_URI
from openvertex.errors import error_body

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 16
_NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter()


class TokenForm(BaseModel):
    """OAuth2's JWT-bearer grant (RFC 7523), as google-auth sends it."""

    grant_type: Literal["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assertion: str = Field(description="A JWT signed with a service-account key (RS256)")


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int


class OAuthError(BaseModel):
    """OAuth2's error shape (RFC 6749 §5.2), not the API's envelope: google-auth reads it."""

    error: Literal["unsupported_grant_type", "invalid_request", "invalid_grant"]
    error_description: str


TOKEN_DOCS: dict[str, Any] = {
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": ref("TokenForm")}},
        }
    },
    "responses": {
        200: {"model": AccessToken, "description": "An access token", "headers": NO_STORE_DOCS},
        400: {"model": OAuthError, "description": "The grant is refused", "headers": NO_STORE_DOCS},
        **errors(413),
    },
}


def schemas() -> dict[str, dict[str, Any]]:
    """The form's schema, for the OpenAPI document."""
    _, document = models_json_schema([(TokenForm, "validation")], ref_template=REF_TEMPLATE)
    return document["$defs"]


def _oauth_error(error: str, description: str) -> JSONResponse:
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=400, headers=_NO_STORE)


class _FormTooLarge(Exception):
    pass


async def _small_body(request: Request) -> bytes:
    """The body, if it is at most MAX_FORM_BYTES; judged by Content-Length before reading."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise _FormTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:  # chunked, or a Content-Length that lied
            raise _FormTooLarge
    return bytes(body)


def _too_large() -> JSONResponse:
    message = f"The token request is larger than {MAX_FORM_BYTES} bytes."
    headers = {**_NO_STORE, "Connection": "close"}  # do not read the rest of it
    return JSONResponse(error_body(413, message), status_code=413, headers=headers)


@router.post("/token", **TOKEN_DOCS)
async def token(request: Request, ctx: Context) -> JSONResponse:
    try:
        body = await _small_body(request)
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=MAX_FORM_FIELDS)
    except _FormTooLarge:
        return _too_large()
    except ValueError:  # parse_qs: too many fields
        return _oauth_error("invalid_request", f"The form has over {MAX_FORM_FIELDS} fields.")
    grant_type = form.get("grant_type", [""])[0]
    if grant_type != JWT_BEARER:
        return _oauth_error("unsupported_grant_type", f"Only {JWT_BEARER} is supported.")
    assertion = form.get("assertion", [""])[0]
    if not assertion:
        return _oauth_error("invalid_request", "The assertion parameter is missing.")
    audiences = {GOOGLE_TOKEN_URI, ctx.settings.token_url}
    now = ctx.clock()
    try:  # store reads and writes: never on the event loop
        key = await run_in_threadpool(
            verify_assertion, ctx.store, assertion, audiences=audiences, now=now
        )
    except InvalidGrant as exc:
        return _oauth_error("invalid_grant", str(exc))
    access_token, expires_in = await run_in_threadpool(issue_access_token, ctx.store, key, now=now)
    reply = {"access_token": access_token, "expires_in": expires_in, "token_type": "Bearer"}
    return JSONResponse(reply, headers=_NO_STORE)
