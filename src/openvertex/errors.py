"""Errors every layer may raise, named after Google's canonical status codes.

They carry no HTTP machinery: `api/errors.py` turns them into the error envelope,
so the engine and core can refuse a request without knowing about responses.
"""

from __future__ import annotations


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
