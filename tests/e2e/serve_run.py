"""``helpdesk serve`` as a customer's machine runs it, in a child process with private ports
and data: its servers found among its children, killed one at a time, and the command
stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.private_stack import load_demo_data, private_settings
from core.settings import Settings, load_settings, settings_env
from helpdesk.stack import APP_PYTHON, bot_model_path

# How each server is recognised in its command line (helpdesk/stack.py).
MARKERS = {"rasa": "--enable-api", "actions": "actions.server", "web": "web.server"}


def serve_settings(root: Path) -> Settings:
    """Free ports, a database with the demo data, a copy of the KB, the trained bot."""
    settings = private_settings(
        root / "var", chat_rate_limit="100000/minute", verify_rate_limit="100000/minute"
    )
    kb = root / "kb"
    shutil.copytree(settings.kb_dir, kb, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    settings = dataclasses.replace(settings, kb_dir=kb)
    load_demo_data(settings)
    model = bot_model_path(settings)
    model.parent.mkdir(parents=True, exist_ok=True)
    model.symlink_to(bot_model_path(load_settings()))
    return settings


def health_url(settings: Settings, name: str) -> str:
    return {
        "rasa": f"http://127.0.0.1:{settings.rasa_port}/webhooks/rest/",
        "actions": f"http://127.0.0.1:{settings.action_port}/health",
        "web": f"http://127.0.0.1:{settings.web_port}/healthz",
    }[name]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _children(parent: int) -> dict[int, str]:
    """Live child processes of ``parent`` and their command lines."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces): state, ppid, ...
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state != "Z":
            out[int(entry.name)] = cmdline
    return out


class ServeRun:
    def __init__(self, settings: Settings, output: Path) -> None:
        self.settings = settings
        self.output = output
        with output.open("wb") as log:
            self.process = subprocess.Popen(
                [str(APP_PYTHON), "-m", "helpdesk.cli", "serve"],
                env={**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while "Bereit nach" not in self.text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"helpdesk serve did not get ready:\n{self.text()}")
            time.sleep(0.5)

    def pid(self, name: str) -> int:
        found = [p for p, cmd in _children(self.process.pid).items() if MARKERS[name] in cmd]
        assert len(found) == 1, f"{name}: {found}"
        return found[0]

    def server_pids(self) -> list[int]:
        return list(_children(self.process.pid))

    def terminate(self, timeout: float = 60) -> int | None:
        """SIGTERM, as systemd or `kill` sends it; the exit code, or None if it hung (then
        it and its servers are killed, so that nothing outlives the test)."""
        servers = self.server_pids()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            for pid in servers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)  # each server leads its own group
            return None
