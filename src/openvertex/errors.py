"""Errors every layer may raise, named after Google's canonical status codes.

Each becomes the error envelope, `{"error": {"code", "message", "status", "type",
"param"}}`, read by Google-style clients (`code`, `status`) and by the `openai` SDK
(`message`, `type`, `param`) alike; `api/error_handlers.py` answers with it, so the
engines and core refuse a request without knowing about responses.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

# The request being served, named in its error bodies (set by api/lifecycle.py).
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class OpenVertexError(Exception):
    """A request that cannot be served, with the Google status it maps to."""

    code: int = 500
    status: str = "INTERNAL"
    type: str = "server_error"

    def __init__(
        self, message: str, *, param: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.reason = reason  # Google's ErrorInfo reason, e.g. ACCESS_TOKEN_EXPIRED


class InvalidArgument(OpenVertexError):
    code, status, type = 400, "INVALID_ARGUMENT", "invalid_request_error"


class FailedPrecondition(OpenVertexError):
    """The request is well formed, but the server is not set up to serve it."""

    code, status, type = 400, "FAILED_PRECONDITION", "invalid_request_error"


class Unauthenticated(OpenVertexError):
    code, status, type = 401, "UNAUTHENTICATED", "authentication_error"


class PermissionDenied(OpenVertexError):
    code, status, type = 403, "PERMISSION_DENIED", "permission_error"


class NotFound(OpenVertexError):
    code, status, type = 404, "NOT_FOUND", "not_found_error"


class ClientClosedRequest(OpenVertexError):
    """The client went away before its answer; nobody reads this one, the ledger does."""

    code, status, type = 499, "CANCELLED", "invalid_request_error"


class Unavailable(OpenVertexError):
    code, status, type = 503, "UNAVAILABLE", "server_error"


class Internal(OpenVertexError):
    pass


class BadGateway(OpenVertexError):
    """An upstream server failed or answered what openvertex cannot pass on."""

    code, status, type = 502, "UNAVAILABLE", "server_error"


class DeadlineExceeded(OpenVertexError):
    code, status, type = 504, "DEADLINE_EXCEEDED", "server_error"


class ResourceExhausted(OpenVertexError):
    """Over a quota or over capacity: the client should come back after `retry_after` s."""

    code, status, type = 429, "RESOURCE_EXHAUSTED", "rate_limit_error"

    def __init__(self, message: str, *, retry_after: int, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(
    code: int,
    message: str,
    *,
    status: str | None = None,
    type: str | None = None,
    param: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "status": status or _GOOGLE_STATUS.get(code, "INTERNAL"),
        "type": type or ("invalid_request_error" if code < 500 else "server_error"),
        "param": param,
    }
    if request_id := REQUEST_ID.get():
        error["request_id"] = request_id  # to find the request in the access log
    if reason:  # Google's machine-readable why, e.g. ACCESS_TOKEN_EXPIRED
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": "aiplatform.googleapis.com"},
            }
        ]
    return {"error": error}


def body_of(exc: OpenVertexError) -> dict[str, Any]:
    return error_body(
        exc.code, exc.message, status=exc.status, type=exc.type, param=exc.param, reason=exc.reason
    )
