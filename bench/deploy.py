"""The production layout under load (helpdesk/layout.py): nginx, two replicas of every
server, PostgreSQL and Redis, all on this machine.

    .venv/bin/python -m bench.deploy            # the figures for docs/deploy.md
    .venv/bin/python -m bench.deploy --quick    # only the load with crashes

1. **Crashes under load**: 50 customers (bench.load's scripted conversations, think 1-3 s)
   through nginx for 60 s; one Rasa process is SIGKILLed a third of the way in and one
   action server two thirds of the way in, each started again at once. Reported: p95,
   errors by type (degraded answers among them), lost messages, restart times.
2. **What scales how**: saturation (no think time, 20 customers, 30 s) with both replicas
   of everything, then with one Rasa process, then with one action server; messages per
   second each, and the memory of every process.

Needs Debian's nginx, PostgreSQL and Redis (scripts/install-test-services.sh).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.load import (
    HIGH_LIMIT,
    Customer,
    lost_messages,
    memory_report,
    parse_args,
    print_report,
    run_customers,
    summarise,
    warm_up,
)
from bench.private_stack import load_demo_data
from bench.rss import MemorySampler, cpu_seconds
from bench.services import postgres, redis
from helpdesk.layout import Layout

# Errors that still answered the customer: the limited mode's answer while Rasa or an action
# server is away (a KB answer, or "limited" with a human on offer), and a reply other than the
# script expected (a turn whose action was running in the server that was killed: Rasa goes
# on without that action's events). Anything else (HTTP errors, timeouts, refused
# connections, no reply) left a customer without an answer.
ANSWERED_ANYWAY = ("limited service", "unexpected reply")


@dataclass
class Chaos:
    """Kill servers at given seconds into the load and start each again at once."""

    layout: Layout
    plan: list[tuple[float, str]]
    restarts: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def run(self, started: float) -> None:
        for at, name in self.plan:
            time.sleep(max(0.0, started + at - time.monotonic()))
            print(f"  {at:.0f} s: SIGKILL {name}", file=sys.stderr)
            try:
                self.layout.kill(name)
                self.restarts[name] = round(self.layout.restart(name), 1)
                print(f"  {name} healthy again after {self.restarts[name]} s", file=sys.stderr)
            except Exception as exc:  # reported, and the test fails on it
                self.failures.append(f"{name}: {exc}")


def load_with_crashes(
    layout: Layout, *, users: int = 50, duration: float = 60, kill: tuple[str, ...] = ()
) -> dict[str, Any]:
    """bench.load's customers through nginx while ``kill`` servers crash in turn."""
    args = parse_args(["--users", str(users), "--duration", str(duration)])
    step = duration / (len(kill) + 1)
    chaos = Chaos(layout, [(step * (i + 1), name) for i, name in enumerate(kill)])
    sampler = _sampler(layout)
    cpu_before = _cpu(layout)
    started = time.monotonic()
    thread = threading.Thread(target=chaos.run, args=(started,), daemon=True)
    thread.start()
    customers, elapsed = run_customers(layout.public_url, args)
    thread.join()
    sampler.stop()
    conversations = [log for c in customers for log in c.conversations]
    problems = lost_messages(layout.public_url, conversations)
    result = summarise(args, customers, elapsed, problems, _memory(layout, sampler, cpu_before))
    result["restarts_s"] = chaos.restarts
    result["chaos_failures"] = chaos.failures
    result["unanswered_errors"] = {
        kind: n for kind, n in result["errors"].items() if not kind.startswith(ANSWERED_ANYWAY)
    }
    result["errors_by_10_s"] = _timeline(customers, started)
    # The fault-free targets (no errors, p95) cannot hold while a server restarts.
    print_report(result, customers, with_targets=False)
    lost = sum(result["lost_by_type"].values())
    print(f"under crashes: lost messages {lost}, unanswered {result['unanswered_errors'] or 0}")
    print(f"kills at s: {[(round(at), name) for at, name in chaos.plan]}")
    print(f"restarts (s until healthy): {chaos.restarts or 'none'}")
    for window, errors in result["errors_by_10_s"].items():
        print(f"  errors {window}: {errors}")
    return result


def _timeline(customers: list[Customer], started: float) -> dict[str, dict[str, int]]:
    """Errors by kind per 10 s of the run: which crash caused which."""
    windows: dict[str, Counter[str]] = {}
    for sample in (s for c in customers for s in c.samples if s.error):
        start = int((sample.done - started) // 10) * 10
        windows.setdefault(f"{start}-{start + 10} s", Counter())[sample.error] += 1
    return {window: dict(errors) for window, errors in sorted(windows.items())}


def saturation(layout: Layout, label: str, *, users: int = 20, duration: float = 30) -> dict:
    """Messages per second with no think time, and each server's CPU per message: one core
    of that server carries 1000 / (CPU ms per message) messages per second."""
    # One address for all: every run's wrong codes would otherwise add up to the lockout.
    argv = ["--users", str(users), "--duration", str(duration), "--think", "0", "--same-address"]
    args = parse_args(argv)
    pids = {s.name: s.process.pid for s in layout.servers if s.process and s.healthy()}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    customers, elapsed = run_customers(layout.public_url, args)
    messages = sum(1 for c in customers for s in c.samples if s.kind != "start")
    errors = Counter(s.error for c in customers for s in c.samples if s.error)
    cpu_ms = {
        name: round((cpu_seconds(pid) - before[name]) * 1000 / max(messages, 1), 1)
        for name, pid in pids.items()
    }
    rate = messages / elapsed
    print(f"{label}: {rate:.1f} messages/s ({messages} in {elapsed:.0f} s), errors {dict(errors)}")
    print(f"  CPU ms per message: {cpu_ms}")
    return {"messages_per_s": round(rate, 1), "errors": dict(errors), "cpu_ms_per_message": cpu_ms}


def _sampler(layout: Layout) -> MemorySampler:
    pids = {s.name: s.process.pid for s in layout.servers if s.process is not None}
    sampler = MemorySampler(pids)
    sampler.start()
    return sampler


def _cpu(layout: Layout) -> dict[str, tuple[int, float]]:
    return {
        s.name: (s.process.pid, cpu_seconds(s.process.pid))
        for s in layout.servers
        if s.process is not None
    }


def _memory(
    layout: Layout, sampler: MemorySampler, cpu_before: dict[str, tuple[int, float]]
) -> dict[str, dict[str, Any]]:
    report = memory_report(layout.servers, sampler)
    for server in layout.servers:
        if server.process is None or server.name not in report:
            continue
        pid, before = cpu_before.get(server.name, (0, 0.0))
        # A server killed and restarted counts from its restart only (its first process's
        # CPU time is gone with it).
        used = cpu_seconds(server.process.pid) - (before if server.process.pid == pid else 0.0)
        report[server.name]["cpu_s"] = round(used, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The production layout under load")
    parser.add_argument("--quick", action="store_true", help="only the load with crashes")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    options = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="helpdesk-deploy-") as tmp,
        postgres() as database_url,
        redis() as redis_url,
    ):
        layout = Layout(
            Path(tmp),
            database_url=database_url,
            redis_url=redis_url,
            # All customers come from this machine: the limits must not be what is measured.
            chat_rate_limit=HIGH_LIMIT,
            verify_rate_limit=HIGH_LIMIT,
        )
        load_demo_data(layout.settings)
        started = time.monotonic()
        with layout:
            print(f"layout up in {time.monotonic() - started:.0f} s", file=sys.stderr)
            warm_up(layout.public_url)
            result = load_with_crashes(layout, kill=("rasa-a", "actions-a"))
            if not options.quick:
                rates = {"2 Rasa, 2 action servers": saturation(layout, "both replicas")}
                layout.server("rasa-b").stop()
                rates["1 Rasa, 2 action servers"] = saturation(layout, "one Rasa process")
                layout.restart("rasa-b")
                layout.server("actions-b").stop()
                rates["2 Rasa, 1 action server"] = saturation(layout, "one action server")
                layout.restart("actions-b")
                result["saturation"] = rates
    if options.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
