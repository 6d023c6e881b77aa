"""Keeping the servers up: one that exits, or stops answering its health check for long, is
restarted on its own, with backoff, while the others go on serving (the web app answers in
its limited mode while Rasa or the action server is away).

:class:`RestartPolicy` is the pure part (when to try again, and when a server counts as one
that cannot start), with an injectable clock. :class:`Supervisor` applies it
to the servers of a :class:`helpdesk.stack.Stack`: :meth:`Supervisor.tick` is one look at
every server, run by a thread of its own so that ``helpdesk serve`` keeps its main thread
for Ctrl-C and ``--chat``. Stopping the servers stays the stack's job.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

Clock = Callable[[], float]

# What the operator reads (German, like every message of the command).
LABELS = {"rasa": "Rasa", "actions": "Der Aktionsserver", "web": "Die Web-App"}
# Why a server that answers its health check with "broken" cannot work.
BROKEN = {"rasa": "das Bot-Modell ließ sich nicht laden"}
MEANWHILE = {
    "rasa": "Das Chat-Widget antwortet solange eingeschränkt aus den Anleitungen.",
    "actions": "Der Assistent antwortet solange eingeschränkt und bietet einen Mitarbeiter an.",
    "web": "Chat-Widget, Agentenkonsole und Editor sind solange nicht erreichbar.",
}


@dataclass
class RestartPolicy:
    """When to start a server again after it exited: 1 s, 2 s, 4 s … at most ``max_delay``.

    A server that stayed up ``reset_after`` seconds starts again from ``first_delay``: an
    exit now and then is not a crash loop. ``report_after`` starts in a row that never got
    healthy make it *broken*: the supervisor says so, and tries only every
    ``broken_delay`` seconds (a broken model file does not mend itself quickly, and each try
    of Rasa costs seconds of CPU the other servers need); it is still tried, so that a fixed
    file brings it back without a restart of everything.
    """

    first_delay: float = 1.0
    max_delay: float = 30.0
    reset_after: float = 60.0
    report_after: int = 3
    broken_delay: float = 300.0
    clock: Clock = time.monotonic
    failures: int = 0  # exits since the server was last up for reset_after seconds
    failed_starts: int = 0  # starts in a row that never passed the health check
    up_since: float | None = None

    def up(self) -> None:
        """The server passed its health check."""
        self.up_since = self.clock()
        self.failed_starts = 0

    def exited(self) -> float:
        """The server exited (or failed to start): the seconds to wait before starting it."""
        now = self.clock()
        if self.up_since is None:
            self.failed_starts += 1
        elif now - self.up_since >= self.reset_after:
            self.failures = 0
        self.up_since = None
        self.failures += 1
        if self.broken:
            return self.broken_delay
        # The exponent is bounded: a server may exit thousands of times in a long run.
        return min(self.max_delay, self.first_delay * 2 ** min(self.failures - 1, 30))

    @property
    def broken(self) -> bool:
        return self.failed_starts >= self.report_after


class Server(Protocol):
    """What the supervisor needs of :class:`helpdesk.stack.ServerProcess`."""

    name: str
    log_path: Path

    def start(self) -> None: ...
    def poll(self) -> int | None: ...
    def health(self, timeout: float = 2) -> str: ...  # "up", "down" or "broken"
    def stop(self, timeout: float = 15) -> None: ...
    def log_tail(self, lines: int = 30) -> str: ...


@dataclass
class Outage:
    """One server's time away, from its exit until its health check passed again."""

    name: str
    exited_at: float
    up_at: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.up_at is None else self.up_at - self.exited_at


STARTING, UP, WAITING = "starting", "up", "waiting"


@dataclass
class _Watched:
    server: Server
    policy: RestartPolicy
    state: str = WAITING
    due: float = 0.0  # WAITING: when to start; STARTING: when to stop waiting for health
    tries: int = 0  # starts since it was last up
    outage: Outage | None = None
    checked_at: float = 0.0  # UP: the last health check
    silent_since: float | None = None  # UP: the first of the failed checks since


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"Signal {signal.Signals(-code).name}"
        except ValueError:
            return f"Signal {-code}"
    return f"Exit-Code {code}"


@dataclass
class Supervisor:
    servers: Sequence[Server]
    policy: Callable[[], RestartPolicy] = RestartPolicy
    clock: Clock = time.monotonic
    say: Callable[[str], None] = _say
    # Rasa with the default pipeline needs some 40 s, more on a busy machine.
    start_timeout: float = 240.0
    interval: float = 0.5
    # A running server whose health check has failed for this long is hung (a deadlock, a
    # stopped process, a machine swapping): it is killed and started again. Generous, and
    # each check waits long: a server that is only slow under load must not be restarted,
    # which would add a start's CPU to the load and drop its work.
    unresponsive_after: float = 90.0
    check_every: float = 5.0
    check_timeout: float = 5.0
    outages: list[Outage] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._watched = [_Watched(s, self.policy()) for s in self.servers]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the loop ----------------------------------------------------------------------

    def launch(self) -> None:
        """Start the servers, and watch them from a thread."""
        self.start_servers()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()

    def start_servers(self) -> None:
        """Start every server that is not running (all of them, at first)."""
        for watched in self._watched:
            if watched.state == WAITING:
                self._start(watched, self.clock())

    def stop(self) -> None:
        """Stop watching (and restarting); the servers themselves keep running."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception as exc:  # a dead watcher would restart nothing
                self.say(f"Überwachung: unerwarteter Fehler ({exc!r}); sie läuft weiter.")

    def tick(self) -> None:
        """One look at every server: start what is due, notice exits and health."""
        for watched in self._watched:
            if self._stop.is_set():
                return
            now = self.clock()
            if watched.state == WAITING:
                if now >= watched.due:
                    self._start(watched, now)
                continue
            code = watched.server.poll()
            if code is not None:
                self._exited(watched, now, exit_reason(code))
            elif watched.state == UP:
                if now - watched.checked_at >= self.check_every:
                    self._check_responsive(watched, now)
            elif watched.state == STARTING:
                health = watched.server.health()
                if health == "up":
                    self._up(watched, self.clock())
                elif health == "broken" or now >= watched.due:
                    # Running but useless: stopped, and counted as a failed start.
                    watched.server.stop()
                    why = BROKEN.get(watched.server.name, "nicht einsatzbereit")
                    if health != "broken":
                        why = f"nach {self.start_timeout:.0f} s nicht bereit"
                    self._exited(watched, now, why)

    def _check_responsive(self, watched: _Watched, now: float) -> None:
        watched.checked_at = now
        if watched.server.health(self.check_timeout) == "up":
            watched.silent_since = None
            return
        if watched.silent_since is None:
            watched.silent_since = now
        silent = self.clock() - watched.silent_since
        if silent >= self.unresponsive_after:
            # A hung process may ignore SIGTERM; stop() kills it after the timeout.
            watched.server.stop(timeout=5)
            happened = f"antwortet seit {silent:.0f} s nicht und wurde beendet"
            # Its outage began with the silence, and its restart's backoff with the kill.
            self._exited(watched, self.clock(), "antwortet nicht", happened, watched.silent_since)

    # --- state changes -----------------------------------------------------------------

    def _start(self, watched: _Watched, now: float) -> None:
        watched.tries += 1
        if watched.outage is not None or watched.tries > 1:
            self.say(f"{self._label(watched)} wird neu gestartet (Versuch {watched.tries}) …")
        try:
            watched.server.start()
        except OSError as exc:  # the program is missing, the log folder not writable
            self._exited(watched, now, str(exc))
            return
        watched.state, watched.due = STARTING, now + self.start_timeout

    def _up(self, watched: _Watched, now: float) -> None:
        watched.policy.up()
        tries, watched.state, watched.tries = watched.tries, UP, 0
        watched.checked_at, watched.silent_since = now, None
        outage, watched.outage = watched.outage, None
        if outage is not None:
            outage.up_at = now
            self.say(
                f"{self._label(watched)} ist wieder bereit "
                f"({outage.seconds:.0f} s nach dem Ausfall)."
            )
        elif tries > 1:
            self.say(f"{self._label(watched)} ist bereit (im {tries}. Versuch).")

    def _exited(
        self,
        watched: _Watched,
        now: float,
        reason: str,
        happened: str | None = None,
        away_since: float | None = None,
    ) -> None:
        was_up = watched.state == UP
        delay = watched.policy.exited()
        watched.state, watched.due = WAITING, now + delay
        if was_up:  # not a failed start: that is part of the start, or of an outage
            watched.outage = Outage(watched.server.name, now if away_since is None else away_since)
            self.outages.append(watched.outage)
        label = self._label(watched)
        meanwhile = MEANWHILE.get(watched.server.name, "")
        if was_up:
            what = happened or f"hat sich unerwartet beendet ({reason})"
            self.say(
                f"{label} {what}. Die anderen Server laufen weiter; Neustart in {delay:.0f} s. "
                f"{meanwhile}"
            )
        elif watched.policy.failed_starts == watched.policy.report_after:
            self.say(
                f"{label} startet nicht: {watched.tries} Versuche hintereinander sind "
                f"fehlgeschlagen ({reason}). Die anderen Server laufen weiter. {meanwhile} "
                f"Ein neuer Versuch folgt alle {delay / 60:.0f} Minuten. Protokoll: "
                f"{watched.server.log_path}; die letzten Zeilen:\n{watched.server.log_tail(12)}"
            )
        else:
            self.say(f"{label} ließ sich nicht starten ({reason}); neuer Versuch in {delay:.0f} s.")

    # --- what serve() asks -------------------------------------------------------------

    def settled(self) -> bool:
        """Every server is up, or known not to start."""
        return all(w.state == UP or w.policy.broken for w in self._watched)

    def wait_settled(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.settled():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def down(self) -> list[str]:
        """The names of the servers that are not up."""
        return [w.server.name for w in self._watched if w.state != UP]

    def _label(self, watched: _Watched) -> str:
        return LABELS.get(watched.server.name, watched.server.name)
