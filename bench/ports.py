"""Free loopback ports for the private stacks of the benchmarks and of the end-to-end tests
(tests/e2e imports it from here: bench may not import tests)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now; the OS may hand it out again once it is closed,
    so the caller binds it soon after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
