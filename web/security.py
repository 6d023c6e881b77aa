"""Response headers every page gets: a strict Content-Security-Policy, no framing of the
console and editor, no MIME sniffing. The widget's own script may be embedded anywhere."""

from __future__ import annotations

from flask import Flask, Response, request

# No inline scripts or styles anywhere: XSS that slips past the sanitizer still cannot run.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors {ancestors}"
)


def init_app(app: Flask) -> None:
    app.after_request(_headers)


def _headers(response: Response) -> Response:
    # The widget frame is meant to be embedded in the provider's pages; nothing else is.
    embeddable = request.path.startswith("/widget/")
    ancestors = "*" if embeddable else "'none'"
    response.headers.setdefault("Content-Security-Policy", _CSP.format(ancestors=ancestors))
    if not embeddable:
        response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith(("/agent", "/editor", "/analytics", "/login")):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
