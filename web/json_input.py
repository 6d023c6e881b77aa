"""Request input every view can trust: JSON bodies, and query strings.

Python's ``json`` accepts bodies that blow up later, as HTTP 500s: a lone surrogate
(``"\\ud800"``, or its UTF-8 bytes ``ED A0 80``) decodes into a ``str`` that cannot be encoded
as UTF-8 again, so storing, logging or forwarding it raises; a NUL character cannot be stored
in PostgreSQL; and a deeply nested body makes the decoder itself raise ``RecursionError``.
:func:`read_object` is the only way the web app reads a JSON body: it refuses all of these
with a German message before a view uses any of the input, so nothing is stored half.

Forms need nothing extra: werkzeug keeps invalid percent-escapes (``%ED%A0%80``) as they are,
decodes multipart fields with replacement characters and yields an empty form for a body
that is not UTF-8, so the views' own checks (and the CSRF check) answer. A query string with
raw bytes that are not UTF-8, though, makes ``request.args`` raise: :func:`init_app` answers
those requests with 400 before any view runs.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, render_template, request

from core import strict_json

MAX_DEPTH = strict_json.MAX_DEPTH

NOT_JSON = "Die Anfrage muss JSON sein (Content-Type: application/json)."
INVALID = "Die Anfrage ist ungültig: Sie ist kein gültiges JSON."
TOO_DEEP = f"Die Anfrage ist ungültig: Das JSON ist tiefer als {MAX_DEPTH} Ebenen verschachtelt."
BAD_CHARACTERS = (
    "Die Anfrage ist ungültig: Sie enthält Zeichen, die nicht verarbeitet werden können "
    "(kein gültiges UTF-8, einzelne Surrogate wie \\ud800 oder Nullzeichen)."
)
DUPLICATE = "Die Anfrage ist ungültig: Ein Feld kommt im selben JSON-Objekt mehrfach vor."
NOT_OBJECT = "Die Anfrage ist ungültig: Erwartet wird ein JSON-Objekt ({…})."
BAD_QUERY = "Die Adresse enthält ungültige Zeichen (kein gültiges UTF-8)."
_MESSAGES = {
    strict_json.NOT_UTF8: BAD_CHARACTERS,
    strict_json.UNUSABLE_CHARACTER: BAD_CHARACTERS,
    strict_json.TOO_DEEP: TOO_DEEP,
    strict_json.INVALID: INVALID,
    strict_json.DUPLICATE_KEY: DUPLICATE,
}


class JsonInputError(ValueError):
    """The request body is refused; ``message`` is meant for the sender."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def error(message: str, status: int) -> Response:
    """The JSON error every JSON endpoint of the web app answers with."""
    response = jsonify(error=message)
    response.status_code = status
    return response


def parse(raw: bytes | str) -> Any:
    """``raw`` as JSON, or :class:`JsonInputError` with the reason it was refused."""
    try:
        return strict_json.parse(raw)
    except strict_json.BadJson as exc:
        raise JsonInputError(_MESSAGES[exc.reason]) from None


def read_object(*, not_object: str = NOT_OBJECT) -> dict[str, Any]:
    """The current request's body, a JSON object; else :class:`JsonInputError`
    (415 if the body is not declared as JSON, 400 otherwise; ``not_object`` is the message
    for valid JSON that is no object, e.g. one that names the fields expected)."""
    if not request.is_json:
        raise JsonInputError(NOT_JSON, 415)
    data = parse(request.get_data(cache=True))
    if not isinstance(data, dict):
        raise JsonInputError(not_object)
    return data


def string_field(
    body: dict[str, Any], key: str, message: str, *, required: bool = True
) -> str | None:
    """``body[key]`` if it is a string (or, not ``required``, missing or null); else
    :class:`JsonInputError` with ``message``."""
    value = body.get(key)
    if isinstance(value, str) or (value is None and not required):
        return value
    raise JsonInputError(message)


# -- query strings -------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    app.before_request(_query_string_is_utf8)


def _query_string_is_utf8() -> Response | tuple[str, int] | None:
    try:
        request.args  # noqa: B018 -- werkzeug decodes (and caches) it here, or raises
    except UnicodeDecodeError:
        # JSON for the chat API and the console's fetch() routes, like web.auth's errors.
        if "/api/" in request.path or request.is_json:
            return error(BAD_QUERY, 400)
        return render_template("error.html", title="Ungültige Adresse", message=BAD_QUERY), 400
    return None
