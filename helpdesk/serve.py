"""``helpdesk serve``: start every server, print where they are, keep them up, stop them all
on Ctrl-C or SIGTERM.

A server that exits is restarted on its own while the others go on serving
(:mod:`helpdesk.supervisor`): the web app answers in its limited mode meanwhile. With
``--chat`` it also opens a conversation with the bot in the terminal, through the same REST
channel the web app uses.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import urllib.error
import urllib.request
import uuid

from core.settings import Settings
from helpdesk.stack import Stack, StackError
from helpdesk.supervisor import LABELS, MEANWHILE, Supervisor


def send(rest_url: str, sender: str, text: str, timeout: float = 30) -> list[dict]:
    """One customer turn over Rasa's REST channel; the bot's messages come back."""
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(
        rest_url, data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _print_reply(messages: list[dict]) -> None:
    for message in messages:
        if message.get("text"):
            print(f"\nAssistent: {message['text']}")
        for button in message.get("buttons") or []:
            print(f"   [{button['title']}]  → {button['payload']}")


def _chat(stack: Stack) -> None:
    sender = f"terminal-{uuid.uuid4().hex[:8]}"
    print("Schreiben Sie dem Assistenten (leere Zeile oder Strg-D beendet).")
    while True:
        try:
            text = input("\nSie: ")
        except EOFError:
            return
        if not text.strip():
            return
        try:
            _print_reply(send(stack.rest_url, sender, text))
        except (urllib.error.URLError, OSError) as exc:
            print(f"\nDer Assistent ist gerade nicht erreichbar ({exc}).")


def _print_demo_accounts(settings: Settings) -> None:
    from core.db import get_sessionmaker, session_scope
    from helpdesk.demo_accounts import ensure_demo_accounts

    with session_scope(get_sessionmaker(settings)) as session:
        accounts = ensure_demo_accounts(session, settings)
    print("Demo-Konten (nur im Demomodus; Benutzername / Passwort):")
    for username, password in accounts.items():
        print(f"  {username:<8} {password}")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _print_ready(stack: Stack, supervisor: Supervisor, seconds: float) -> None:
    settings = stack.settings
    down = supervisor.down()
    if down:
        print(f"Bereit nach {seconds:.0f} s, aber eingeschränkt:")
        for name in down:
            print(f"  {LABELS.get(name, name)} läuft nicht. {MEANWHILE.get(name, '')}")
    else:
        print(f"Bereit nach {seconds:.0f} s:")
    print(f"  Rasa (REST):     {stack.rest_url}")
    print(f"  Rasa (socketio): http://127.0.0.1:{settings.rasa_port}/socket.io")
    print(f"  Aktionsserver:   http://127.0.0.1:{settings.action_port}/webhook")
    web = settings.web_url
    print(f"  Demo-Website mit Chat-Widget: {web}/")
    print(f"  Agentenkonsole:  {web}/agent/")
    print(f"  KB-Editor:       {web}/editor/")
    print(f"  Auswertung:      {web}/analytics/")
    print(f"  Protokolle:      {settings.data_dir / 'log'}", flush=True)


def serve(settings: Settings, *, chat: bool) -> int:
    # The servers run in their own sessions (Ctrl-C is ours to handle); a SIGTERM to this
    # process (`kill`, `timeout`, systemd) must stop them too, through the same `finally`.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    stack = Stack(settings)
    print("Server werden gestartet (Rasa, Aktionen und Wissensdatenbank, Web) …", flush=True)
    started = time.monotonic()
    try:
        stack.prepare()
    except StackError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1
    # From the first start on, a server that exits is retried alone: a Rasa that cannot
    # load its model must not keep the web app (and its limited mode) from serving.
    supervisor = Supervisor(stack.servers)
    try:
        supervisor.launch()
        supervisor.wait_settled(supervisor.start_timeout + 30)
        _print_ready(stack, supervisor, time.monotonic() - started)
        if settings.demo:
            _print_demo_accounts(settings)
        if chat:
            _chat(stack)
        else:
            print("Strg-C beendet alle Server.", flush=True)
            while True:  # the supervisor's thread does the work; signals land here
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        # Watching stops first, so that nothing is restarted while the servers stop.
        supervisor.stop()
        print("\nServer werden gestoppt …", flush=True)
        stack.stop()
    return 0
