"""The one error media code raises for bad client input.

Its message is written for the client (the API wraps it into a 400 naming the message
part), so it never carries internal details such as resolved addresses or file paths.
"""

from __future__ import annotations

URL_SCHEMES = ("data:", "http:", "https:")


class MediaError(ValueError):
    """Client-supplied media that cannot be used; the message is safe to show."""


def unsupported_scheme(scheme: str) -> MediaError:
    """The refusal for a URL scheme we do not fetch (gs:, ftp:, file:, ...)."""
    shown = scheme[:20] or "(none)"
    return MediaError(
        f"unsupported URL scheme {shown!r}; supported schemes: {', '.join(URL_SCHEMES)}"
    )
