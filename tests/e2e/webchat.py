"""The real third-party widget rasa-webchat on a provider's page, in headless chromium.

The page and the cached bundle (scripts/install-webchat.sh) are served by a throw-away
``http.server`` on loopback: another origin than the socket.io server the widget talks to,
as on a provider's own site. The site starts first, so its origin is known before Rasa (or
a proxy in front of it) is started with its allowed origins::

    with webchat_site() as site:      # site.origin -> HELPDESK_ALLOWED_ORIGINS
        ...start Rasa...
        text = site.reply("http://127.0.0.1:5005", "Wie ändere ich mein Passwort?")

``socket_url`` is any socket.io server: Rasa itself or a reverse proxy in front of it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from core.settings import REPO_ROOT
from tests.e2e import browser

if TYPE_CHECKING:  # Playwright is a dev requirement: imported where it is used
    from playwright.sync_api import Browser, Request, Response, Route

VERSION = "1.0.1"
BUNDLE = REPO_ROOT / "build" / "vendor" / f"rasa-webchat-{VERSION}" / "index.js"
SOCKET_PATH = "/socket.io/"
# A payload, not "": opened without one, the widget sends an empty message (RUNTIME.md).
INIT_PAYLOAD = "/greet"

# The provider's one-line embed, as rasa-webchat's README gives it; the props come in the
# URL's fragment (never sent to the server), so one static page serves every test.
PAGE = b"""<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Beispiel Hosting</title></head>
<body><h1>Beispiel Hosting</h1>
<script src="/rasa-webchat.js"></script>
<script>WebChat.default(JSON.parse(decodeURIComponent(location.hash.slice(1))), null);</script>
</body></html>
"""

# The widget's DOM: runs of messages from one side are grouped in div.rw-group-message,
# marked rw-from-client (the customer) or rw-from-response (the bot); each message's text is
# in .rw-message-text. The initPayload is sent without being shown.
GROUP = "div[contains(concat(' ', normalize-space(@class), ' '), ' rw-group-message ')]"
BOT = f"{GROUP}[contains(@class, 'rw-from-response')]"
CUSTOMER = f"{GROUP}[contains(@class, 'rw-from-client')]"
BOT_AFTER_CUSTOMER = f"xpath=(//{CUSTOMER})[last()]/following-sibling::{BOT}"


def have_webchat() -> bool:
    return BUNDLE.is_file()


class WebchatError(AssertionError):
    pass


@dataclass
class Outcome:
    """What one conversation in the widget saw, for asserts and for failure messages."""

    reply: str | None = None  # the bot's first message after the question; None: none came
    greeted: bool = False  # the bot answered the initPayload: the socket worked
    statuses: list[int] = field(default_factory=list)  # HTTP answers on the socket.io path
    failed: list[str] = field(default_factory=list)  # its requests the browser failed (CORS)
    transports: list[str] = field(default_factory=list)  # "polling" / "websocket", in order
    console: list[str] = field(default_factory=list)  # the page's console and errors

    def __str__(self) -> str:  # for failure messages: the last of a long console
        return repr(dataclasses.replace(self, failed=self.failed[:3], console=self.console[-10:]))


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/":
            self._send(PAGE, "text/html; charset=utf-8")
        elif path == "/rasa-webchat.js":
            self._send(BUNDLE.read_bytes(), "text/javascript; charset=utf-8")
        else:
            self.send_error(404)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test output is no place for an access log


@dataclass
class Site:
    origin: str

    def converse(
        self,
        socket_url: str,
        question: str,
        *,
        timeout_s: float = 30,
        init_payload: str = INIT_PAYLOAD,
        socket_path: str = SOCKET_PATH,
        chromium: Browser | None = None,
    ) -> Outcome:
        """Open the widget at ``socket_url``, wait for its greeting, type ``question`` and
        wait for the bot's next message; never raises for a missing answer (see Outcome).
        Each call is a new browser context, so a new conversation. Give ``chromium`` when
        the caller already runs Playwright: its sync API cannot be started twice."""
        from playwright.sync_api import Error, sync_playwright  # where it is installed

        outcome = Outcome()
        props = {
            "socketUrl": socket_url,
            "socketPath": socket_path,
            "initPayload": init_payload,
            "customData": {"language": "de"},
            "title": "Beispiel Hosting",
            "params": {"storage": "session"},
        }
        with ExitStack() as closing:
            if chromium is None:
                playwright = closing.enter_context(sync_playwright())
                chromium = playwright.chromium.launch(
                    executable_path=browser.CHROMIUM, args=browser.FLAGS
                )
                closing.callback(chromium.close)
            context = chromium.new_context(locale="de-DE")
            closing.callback(context.close)
            page = context.new_page()
            page.set_default_timeout(timeout_s * 1000)
            # No network, and no third party hears of the page: the bundle also fetches its
            # typeface from Google Fonts. Only the page's and the socket's hosts are reached.
            hosts = {urllib.parse.urlsplit(url).hostname for url in (self.origin, socket_url)}

            def local_only(route: Route) -> None:
                host = urllib.parse.urlsplit(route.request.url).hostname
                route.continue_() if host in hosts else route.abort("blockedbyclient")

            def on_request(request: Request) -> None:
                if socket_path in request.url and request.resource_type != "websocket":
                    outcome.transports.append("polling")

            def on_response(response: Response) -> None:
                if socket_path in response.url:
                    outcome.statuses.append(response.status)

            def on_failed(request: Request) -> None:  # a refused origin: a CORS error
                if socket_path in request.url:
                    outcome.failed.append(f"{request.url}: {request.failure}")

            page.route("**/*", local_only)
            page.on("request", on_request)
            page.on("response", on_response)
            page.on("requestfailed", on_failed)
            page.on("websocket", lambda _: outcome.transports.append("websocket"))
            page.on("console", lambda m: outcome.console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: outcome.console.append(f"pageerror: {e}"))
            page.goto(f"{self.origin}/#{urllib.parse.quote(json.dumps(props))}")
            try:
                # The launcher shows once the socket is connected (hideWhenNotConnected);
                # opening the widget sends the initPayload. Its answer is awaited, or it
                # could arrive after the question and be taken for the answer.
                page.locator(".rw-launcher").click()
                page.locator(
                    f"xpath=//{BOT}//*[contains(@class, 'rw-message-text')]"
                ).first.wait_for()
                outcome.greeted = True
                box = page.locator(".rw-new-message")
                box.press_sequentially(question)  # key by key, as a customer types
                box.press("Enter")
                answer = page.locator(BOT_AFTER_CUSTOMER).first
                outcome.reply = answer.locator(".rw-message-text").first.inner_text().strip()
            except Error as error:  # a timeout above: no connection or no answer
                outcome.console.append(f"playwright: {str(error).splitlines()[0]}")
            # A copy: closing the context still fires events (aborted polls) into outcome.
            return copy.deepcopy(outcome)

    def reply(
        self, socket_url: str, question: str, *, timeout_s: float = 30, **options: Any
    ) -> str:
        """The bot's answer to ``question`` typed into the widget; WebchatError if none."""
        outcome = self.converse(socket_url, question, timeout_s=timeout_s, **options)
        if not outcome.reply:
            raise WebchatError(f"no answer in rasa-webchat from {socket_url}: {outcome}")
        return outcome.reply


@contextmanager
def webchat_site(port: int = 0) -> Iterator[Site]:
    """The provider's page on ``http://127.0.0.1:<port>``. Port 0: the OS picks a free one
    as it binds, so no other process can take it between choosing and binding."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="webchat-site", daemon=True)
    thread.start()
    try:
        yield Site(origin=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def webchat_reply(socket_url: str, question: str, *, port: int = 0, timeout_s: float = 30) -> str:
    """One question on a page of its own, for a server that already allows the page's
    origin (give ``port``) or every origin."""
    with webchat_site(port) as site:
        return site.reply(socket_url, question, timeout_s=timeout_s)
