"""Starting and stopping the servers: the Rasa server (Python 3.10), the action server (which
also owns the KB model and index) and the web app.

Used by ``helpdesk serve`` (``make run``) and by the end-to-end tests, so both run the same
processes the same way: loopback only, logs in ``var/log/``, stopped together.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

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

    def start(self) -> None:
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

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


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
            f"http://127.0.0.1:{settings.rasa_port}/webhooks/rest/",
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

    def start(self, timeout: float = 240) -> None:
        if not self.model.is_file():
            raise StackError(f"no trained bot model at {self.model}: run 'make run' (it trains)")
        if not RASA_BIN.exists():
            raise StackError(f"{RASA_BIN} is missing: 'make' creates the Rasa environment")
        write_endpoints(self.settings, self._endpoints)
        write_credentials(self.settings, self._credentials)
        for server in self.servers:
            if server.healthy():
                raise StackError(f"{server.name}: port already in use ({server.health_url})")
            server.start()
        deadline = time.monotonic() + timeout
        waiting = list(self.servers)
        while waiting:
            for server in list(waiting):
                assert server.process is not None
                if server.process.poll() is not None:
                    self.stop()
                    raise StackError(f"{server.name} exited:\n{server.log_tail()}")
                if server.healthy():
                    waiting.remove(server)
            if waiting and time.monotonic() > deadline:
                self.stop()
                names = ", ".join(s.name for s in waiting)
                raise StackError(f"not ready after {timeout:.0f} s: {names}")
            time.sleep(0.5)

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
