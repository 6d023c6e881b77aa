"""The restart policy and the supervisor's loop, with fake servers and a fake clock; and the
one thing of ServerProcess the supervisor relies on with real processes (poll kills a dead
server's leftovers)."""

from __future__ import annotations

import itertools
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpdesk.ports import free_port
from helpdesk.stack import ServerProcess
from helpdesk.supervisor import RestartPolicy, Supervisor, exit_reason


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeServer:
    """Up once ``ready``; ``broken`` servers exit at once on every start, ``useless`` ones
    run but answer their health check with "broken" (Rasa without a model)."""

    name: str
    log_path: Path = Path("var/log/server.log")
    ready: bool = True
    broken: bool = False
    useless: bool = False
    code: int | None = None
    starts: int = 0
    stops: int = 0

    def start(self) -> None:
        self.starts += 1
        self.code = 1 if self.broken else None

    def poll(self) -> int | None:
        return self.code

    def health(self, timeout: float = 2) -> str:
        if self.code is not None:
            return "down"
        if self.useless:
            return "broken"
        return "up" if self.ready else "down"

    def stop(self, timeout: float = 15) -> None:
        self.stops += 1
        self.code = -15

    def log_tail(self, lines: int = 30) -> str:
        return "OSError: model file is broken"

    def die(self, code: int = -9) -> None:
        self.code = code


@dataclass
class Rig:
    clock: FakeClock
    servers: dict[str, FakeServer]
    said: list[str] = field(default_factory=list)
    supervisor: Supervisor | None = None

    def run(self, seconds: float, step: float = 0.5) -> None:
        assert self.supervisor is not None
        for _ in range(round(seconds / step)):
            self.clock.advance(step)
            self.supervisor.tick()


@pytest.fixture
def rig() -> Rig:
    clock = FakeClock()
    servers = {n: FakeServer(n) for n in ("actions", "rasa", "web")}
    rig = Rig(clock, servers)
    rig.supervisor = Supervisor(
        list(servers.values()),
        policy=lambda: RestartPolicy(clock=clock),
        clock=clock,
        say=rig.said.append,
        start_timeout=100,
    )
    rig.supervisor.start_servers()
    rig.supervisor.tick()
    assert rig.supervisor.settled() and rig.supervisor.down() == []
    return rig


# --- the policy --------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap():
    clock = FakeClock()
    policy = RestartPolicy(clock=clock, report_after=100)
    policy.up()
    delays = []
    for _ in range(8):
        delays.append(policy.exited())
        policy.up()  # up again, but not for long
        clock.advance(5)
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_minute_of_health_starts_the_backoff_again():
    clock = FakeClock()
    policy = RestartPolicy(clock=clock)
    policy.up()
    assert [policy.exited(), (policy.up(), policy.exited())[1]] == [1, 2]
    policy.up()
    clock.advance(59)
    assert policy.exited() == 4  # 59 s is not a minute
    policy.up()
    clock.advance(60)
    assert policy.exited() == 1


def test_starts_that_never_get_healthy_make_it_broken_until_it_is_up():
    policy = RestartPolicy(clock=FakeClock())
    assert [policy.exited() for _ in range(3)] == [1, 2, 300]
    assert policy.broken
    policy.up()
    assert not policy.broken


def test_exit_reasons_in_german():
    assert exit_reason(-9) == "Signal SIGKILL"
    assert exit_reason(1) == "Exit-Code 1"


# --- the supervisor ----------------------------------------------------------------------


def test_a_dead_server_is_restarted_alone(rig):
    rasa = rig.servers["rasa"]
    rasa.ready = False  # it will take a while to load the model
    rasa.die()
    rig.run(0.5)
    assert rig.supervisor.down() == ["rasa"]
    assert "Rasa hat sich unerwartet beendet (Signal SIGKILL)" in rig.said[-1]
    assert "Neustart in 1 s" in rig.said[-1]
    assert "eingeschränkt aus den Anleitungen" in rig.said[-1]
    rig.run(1)
    assert rasa.starts == 2
    rig.run(10)
    assert rig.supervisor.down() == ["rasa"]  # started, not yet healthy: not up
    rasa.ready = True
    rig.run(0.5)
    assert rig.supervisor.down() == []
    assert rig.said[-1] == "Rasa ist wieder bereit (12 s nach dem Ausfall)."
    (outage,) = rig.supervisor.outages
    assert (outage.name, outage.seconds) == ("rasa", 11.5)
    others = [rig.servers["actions"], rig.servers["web"]]
    assert [(s.starts, s.stops) for s in others] == [(1, 0), (1, 0)]


def test_a_crash_loop_backs_off_and_a_minute_up_resets_it(rig):
    actions = rig.servers["actions"]
    starts_at = []
    for _ in range(4):
        actions.die(1)
        before = actions.starts
        while actions.starts == before:
            rig.run(0.5)
        starts_at.append(rig.clock.now)
        rig.run(0.5)  # healthy at once, then dies again
    gaps = [round(b - a) for a, b in itertools.pairwise(starts_at)]
    assert gaps == [3, 5, 9]  # 2 s, 4 s, 8 s of backoff, plus the ticks around them
    rig.run(60)
    actions.die(1)
    rig.run(0.5)
    assert "Neustart in 1 s" in rig.said[-1]


def test_a_server_that_cannot_start_is_reported_and_the_others_stay_up(rig):
    rasa = rig.servers["rasa"]
    rasa.broken = True
    rasa.die(1)
    rig.run(20)
    assert rasa.starts == 4  # the first start, then three tries
    report = next(s for s in rig.said if "startet nicht" in s)
    assert "Rasa startet nicht: 3 Versuche hintereinander sind fehlgeschlagen" in report
    assert "Die anderen Server laufen weiter" in report
    assert "Protokoll: var/log/server.log; die letzten Zeilen:" in report
    assert "OSError: model file is broken" in report
    assert sum("startet nicht" in s for s in rig.said) == 1
    assert rig.supervisor.settled() and rig.supervisor.down() == ["rasa"]
    rig.run(300)
    assert rasa.starts == 5  # still tried, every five minutes
    rasa.broken = False
    rig.run(300)
    assert rig.supervisor.down() == []
    others = [rig.servers["actions"], rig.servers["web"]]
    assert [(s.starts, s.stops) for s in others] == [(1, 0), (1, 0)]


def test_a_rasa_without_its_model_is_a_failed_start(rig):
    rasa = rig.servers["rasa"]
    rasa.useless = True
    rasa.die(-9)
    rig.run(20)
    assert rasa.stops == 3 and rasa.starts == 4
    report = next(s for s in rig.said if "startet nicht" in s)
    assert "(das Bot-Modell ließ sich nicht laden)" in report
    assert rig.supervisor.down() == ["rasa"]


def test_a_server_that_never_gets_healthy_is_stopped_and_tried_again(rig):
    web = rig.servers["web"]
    web.ready = False
    web.die(1)
    rig.run(1.5)
    assert web.starts == 2
    rig.run(100)
    assert web.stops == 1
    assert "nach 100 s nicht bereit" in rig.said[-1]
    web.ready = True
    rig.run(3)
    assert rig.supervisor.down() == []


def test_a_start_that_raises_counts_as_a_failed_start(rig):
    actions = rig.servers["actions"]

    def no_program() -> None:
        raise FileNotFoundError(2, "No such file or directory", ".venv/bin/python")

    actions.start = no_program  # type: ignore[method-assign]
    actions.die(1)
    rig.run(2)
    assert "ließ sich nicht starten ([Errno 2] No such file or directory" in rig.said[-1]
    assert rig.supervisor.down() == ["actions"]


def test_a_hung_server_is_killed_and_started_again_alone(rig):
    actions = rig.servers["actions"]
    actions.ready = False  # running, but its health check gets no answer
    rig.run(60)
    assert actions.stops == 0 and rig.supervisor.down() == []
    rig.run(40)
    assert actions.stops == 1
    assert any(
        line.startswith("Der Aktionsserver antwortet seit 90 s nicht und wurde beendet.")
        and "Neustart in 1 s" in line
        for line in rig.said
    )
    actions.ready = True
    rig.run(2)
    assert actions.starts == 2 and rig.supervisor.down() == []
    (outage,) = rig.supervisor.outages  # from the first unanswered check, not from the kill
    assert outage.seconds is not None and 95 <= outage.seconds <= 100
    others = [rig.servers["rasa"], rig.servers["web"]]
    assert [(s.starts, s.stops) for s in others] == [(1, 0), (1, 0)]


def test_a_server_slow_for_a_while_is_left_alone(rig):
    rasa = rig.servers["rasa"]
    for _ in range(3):  # a minute and more without an answer, then one, each time
        rasa.ready = False
        rig.run(80)
        rasa.ready = True
        rig.run(5)
    assert (rasa.starts, rasa.stops) == (1, 0)
    assert rig.said == []


def test_the_thread_stops_and_restarts_nothing_after():
    server = FakeServer("web")
    supervisor = Supervisor([server], say=lambda text: None, interval=0.01)
    supervisor.launch()
    deadline = time.monotonic() + 5
    while not supervisor.settled() and time.monotonic() < deadline:
        time.sleep(0.01)
    supervisor.stop()
    server.die()
    time.sleep(0.1)
    assert server.starts == 1


# --- ServerProcess.poll with real processes ----------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not alive.
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_poll_kills_what_a_killed_server_left_behind(tmp_path):
    # The main process starts a worker (like Sanic's) and prints its pid.
    script = (
        "import subprocess, sys, time\n"
        "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        "print(w.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    log = tmp_path / "log" / "worker.log"
    server = ServerProcess("worker", [sys.executable, "-c", script], "", tmp_path, {}, log)
    server.start()
    assert server.process is not None
    deadline = time.monotonic() + 10
    while not server.log_tail().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = int(server.log_tail().strip())
    assert server.poll() is None and _alive(worker)
    os.kill(server.process.pid, signal.SIGKILL)  # the main process only, as the OOM killer
    deadline = time.monotonic() + 5
    while server.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.poll() == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)


# --- a hung real process -------------------------------------------------------------------


def test_a_stopped_process_is_killed_and_replaced(tmp_path):
    port = free_port()
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    server = ServerProcess(
        "web", argv, f"http://127.0.0.1:{port}/", tmp_path, {}, tmp_path / "web.log"
    )
    said: list[str] = []
    supervisor = Supervisor(
        [server],
        say=said.append,
        interval=0.05,
        start_timeout=30,
        unresponsive_after=1.5,
        check_every=0.2,
        check_timeout=0.3,
    )
    supervisor.launch()
    try:
        assert supervisor.wait_settled(30) and supervisor.down() == []
        assert server.process is not None
        hung = server.process.pid
        os.kill(hung, signal.SIGSTOP)  # alive, listening, never answering
        deadline = time.monotonic() + 30
        while not (supervisor.outages and supervisor.outages[0].up_at):
            assert time.monotonic() < deadline, said
            time.sleep(0.05)
        assert server.process.pid != hung and not _alive(hung)
        assert server.health() == "up"
        assert any("antwortet seit" in line for line in said)
    finally:
        supervisor.stop()
        server.stop()
