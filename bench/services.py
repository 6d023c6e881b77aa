"""Throw-away PostgreSQL and Redis servers on loopback, in temporary folders: for the tests
that run on them and for the production layout's tests and benchmarks (helpdesk/layout.py)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpdesk.ports import free_port


def _wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port}")


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL server; yields the URL of its database ``helpdesk``."""
    bin_dir = postgres_bin()
    assert bin_dir is not None
    # Not below pytest's folders: they are private to root, and as root the server has to
    # run as the postgres user (it refuses root).
    root = Path(tempfile.mkdtemp(prefix="helpdesk-pg-"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
    data, port = root / "data", free_port()
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "helpdesk", "--auth=trust"]
    subprocess.run([*as_user, *initdb], check=True, capture_output=True)
    serve = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root)]
    server = subprocess.Popen(
        [*as_user, *serve, "-h", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        createdb = [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port)]
        for _ in range(20):  # the port opens a moment before connections are accepted
            if subprocess.run([*createdb, "-U", "helpdesk", "helpdesk"]).returncode == 0:
                break
            time.sleep(0.5)
        yield f"postgresql://helpdesk@127.0.0.1:{port}/helpdesk"
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def redis() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(30)
