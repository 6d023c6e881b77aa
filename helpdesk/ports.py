"""Free loopback ports for private stacks: the production layout (helpdesk/layout.py), the
benchmarks and the end-to-end tests."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now; the OS may hand it out again once it is closed,
    so the caller binds it soon after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
