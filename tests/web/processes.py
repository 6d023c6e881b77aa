"""Real web app processes (``python -m web.server``: waitress, as in production) for the
tests that need more than Flask's test client."""

from __future__ import annotations

import time

import pytest

from core.settings import REPO_ROOT, Settings, settings_env
from helpdesk.ports import free_port
from helpdesk.stack import APP_PYTHON, ServerProcess


def web_process(settings: Settings, name: str) -> ServerProcess:
    port = free_port()
    return ServerProcess(
        name,
        [str(APP_PYTHON), "-m", "web.server", "--port", str(port), "--threads", "2"],
        f"http://127.0.0.1:{port}/healthz",
        REPO_ROOT,
        {**settings_env(settings), "PYTHONUNBUFFERED": "1"},
        settings.data_dir / "log" / f"{name}.log",
    )


def started(server: ServerProcess, timeout: float = 60) -> ServerProcess:
    server.start()
    deadline = time.monotonic() + timeout
    while not server.healthy():
        assert server.process is not None
        if server.process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"{server.name} did not start:\n{server.log_tail()}")
        time.sleep(0.2)
    return server
