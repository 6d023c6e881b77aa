"""Starting and stopping the servers: the Rasa server (Python 3.10), the action server (which
also owns the KB model and index) and the web app.

Used by ``helpdesk serve`` (``make run``) and by the end-to-end tests, so both run the same
processes the same way: loopback only, logs in ``var/log/``, stopped together. Keeping them
up (restarting one that died) is :mod:`helpdesk.supervisor`'s job.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from core.keys import rasa_api_token
from core.settings import REPO_ROOT, Settings, settings_env
from helpdesk.rasa_config import cors_arguments, write_credentials, write_endpoints

RASA_BIN = REPO_ROOT / ".venv-rasa" / "bin" / "rasa"
APP_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
BOT_DIR = REPO_ROOT / "bot"


class StackError(RuntimeError):
    pass


def bot_model_path(settings: Settings) -> Path:
    return settings.data_dir / "rasa" / "models" / "helpdesk.tar.gz"


@dataclass
class ServerProcess:
    name: str
    argv: list[str]
    health_url: str
    cwd: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)
    # Statuses of the health URL that mean "listening, but it cannot work": a failed start,
    # not one still under way (Rasa answers 409 when it could not load its model).
    broken_statuses: tuple[int, ...] = ()

    def start(self) -> None:
        # A restart: what is left of the previous run must not hold the port.
        self.poll()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us; we stop the children ourselves
        )
        log.close()

    def poll(self) -> int | None:
        """The exit code once the server's main process has exited, else None (also before
        the first start).

        Its process group's leftovers (worker processes of a killed main process, which
        would keep the port) are killed first, while the main process is still unreaped: a
        zombie's id cannot be reused, so the signal reaches this server's group and no other.
        """
        process = self.process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        try:
            exited = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped elsewhere: Popen knows the code
            return process.poll()
        if exited is None:
            return None
        with contextlib.suppress(ProcessLookupError):  # no leftovers
            os.killpg(process.pid, signal.SIGKILL)
        return process.poll()

    def answers(self, timeout: float = 2) -> int | None:
        """The health URL's HTTP status, or None if nothing listens (yet) or answers in time."""
        try:
            with urllib.request.urlopen(self.health_url, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return None

    def health(self, timeout: float = 2) -> str:
        """Whether it works: "up" (the health URL answers 200), "broken" (it answers one of
        ``broken_statuses``: started, but cannot work), else "down" (not listening yet)."""
        status = self.answers(timeout)
        if status == 200:
            return "up"
        return "broken" if status in self.broken_statuses else "down"

    def healthy(self) -> bool:
        return self.health() == "up"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or self.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def wait_healthy(servers: list[ServerProcess], timeout: float) -> None:
    """Until every server's health check passes; StackError as soon as one exits, answers
    that it cannot work, or is not ready in time (the servers are left as they are)."""
    deadline = time.monotonic() + timeout
    waiting = list(servers)
    while waiting:
        for server in list(waiting):
            if server.poll() is not None:
                raise StackError(f"{server.name} exited:\n{server.log_tail()}")
            health = server.health()
            if health == "broken":
                raise StackError(f"{server.name} cannot work:\n{server.log_tail()}")
            if health == "up":
                waiting.remove(server)
        if waiting and time.monotonic() > deadline:
            names = ", ".join(s.name for s in waiting)
            raise StackError(f"not ready after {timeout:.0f} s: {names}")
        time.sleep(0.3)


class Stack:
    def __init__(self, settings: Settings, *, model: Path | None = None) -> None:
        self.settings = settings
        self.model = model or bot_model_path(settings)
        log_dir = settings.data_dir / "log"
        env = {
            **settings_env(settings),
            "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
        endpoints = settings.data_dir / "rasa" / "endpoints.yml"
        # bot/credentials.yml with the allowed origins and trusted proxies (rasa_config.py).
        credentials = settings.data_dir / "rasa" / "credentials.yml"
        self.actions = ServerProcess(
            "actions",
            [str(APP_PYTHON), "-m", "actions.server", "--port", str(settings.action_port)],
            f"http://127.0.0.1:{settings.action_port}/health",
            REPO_ROOT,
            env,
            log_dir / "actions.log",
        )
        self.rasa = ServerProcess(
            "rasa",
            [
                *(str(RASA_BIN), "run", "--model", str(self.model), "--enable-api"),
                *("--endpoints", str(endpoints), "--credentials", str(credentials)),
                *("--interface", "127.0.0.1", "--port", str(settings.rasa_port)),
                *("--auth-token", rasa_api_token(settings)),
                # Browser origins allowed on the REST channel (Sanic-CORS); socket.io checks
                # its own (bot/channels.py).
                *cors_arguments(settings),
            ],
            # /status answers only with a model loaded: Rasa listens without one if the
            # file is broken, and would look healthy while it ignores every message.
            f"http://127.0.0.1:{settings.rasa_port}/status?token={quote(rasa_api_token(settings))}",
            BOT_DIR,
            {
                **env,
                # channels.py and tracker_store.py; the latter uses support.code_format.
                "PYTHONPATH": f"{BOT_DIR}{os.pathsep}{REPO_ROOT}",
                "RASA_TELEMETRY_ENABLED": "false",
                # The e5 featurizer's OpenMP and TensorFlow: one thread each per request;
                # concurrency comes from serving many conversations, not from one message.
                "OMP_NUM_THREADS": "1",
                # More than one share conversations through the lock store (rasa_config.py).
                "SANIC_WORKERS": str(max(1, settings.rasa_workers)),
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            },
            log_dir / "rasa.log",
            broken_statuses=(409,),  # "No agent loaded"
        )
        self.web = ServerProcess(
            "web",
            [str(APP_PYTHON), "-m", "web.server", "--port", str(settings.web_port)],
            f"http://127.0.0.1:{settings.web_port}/healthz",
            REPO_ROOT,
            env,
            log_dir / "web.log",
        )
        self._endpoints = endpoints
        self._credentials = credentials

    @property
    def servers(self) -> list[ServerProcess]:
        return [self.actions, self.rasa, self.web]

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}/webhooks/rest/webhook"

    def prepare(self) -> None:
        """Check what the servers need and write Rasa's configuration; starts nothing."""
        if not self.model.is_file():
            raise StackError(f"no trained bot model at {self.model}: run 'make run' (it trains)")
        if not RASA_BIN.exists():
            raise StackError(f"{RASA_BIN} is missing: 'make' creates the Rasa environment")
        write_endpoints(self.settings, self._endpoints)
        write_credentials(self.settings, self._credentials)
        for server in self.servers:
            if server.answers() is not None:
                address = urlsplit(server.health_url).netloc  # not the URL: Rasa's has a token
                raise StackError(f"{server.name}: port already in use ({address})")

    def start(self, timeout: float = 240) -> None:
        """Start every server and wait for all to be healthy; if one exits or is not ready
        in time, stop them all (the tests want all or nothing; ``helpdesk serve`` starts
        them through :class:`helpdesk.supervisor.Supervisor` instead)."""
        self.prepare()
        for server in self.servers:
            server.start()
        try:
            wait_healthy(self.servers, timeout)
        except StackError:
            self.stop()
            raise

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
