"""End-to-end message latency through Rasa's REST webhook, with the real servers.

Each simulated conversation sends a KB question, opens the support-code form and answers it
with the right code (a form turn: validation and database). Run with 1 and with 20
concurrent conversations; prints p50/p95 per kind of turn, messages per second, errors and
the resident memory (now and peak) of both servers.

    .venv/bin/python -m bench.dialogue [--rounds 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import percentile, table
from bench.private_stack import load_demo_data, private_settings
from core.settings import Settings, load_settings
from helpdesk.serve import send
from helpdesk.stack import Stack, bot_model_path

QUESTIONS = [
    "Wie deaktiviere ich die Zwei-Faktor-Authentifizierung?",
    "Wo kann ich meine Rechnungsadresse ändern?",
    "Wie lösche ich mein Benutzerkonto?",
    "Wie ändere ich mein Profilbild?",
    "Wie kann ich den Newsletter abbestellen?",
    "Wie wechsle ich die Organisation?",
    "Was ist ein VIP-Code?",
    "Wie füge ich einen Kunden im Partnerprogramm hinzu?",
]
SUPPORT_CODE = "482913"  # the demo customer Muster AG


def bench_settings(root: Path) -> Settings:
    return private_settings(root)


def conversation(stack: Stack, round_no: int) -> list[tuple[str, float, bool]]:
    """One conversation's turns as (kind, seconds, ok)."""
    sender = f"bench-{uuid.uuid4().hex[:10]}"
    turns = [
        ("kb", QUESTIONS[round_no % len(QUESTIONS)], "Quelle"),
        ("form start", "Ich möchte mich mit meinem Supportcode verifizieren", "Supportcode"),
        ("form turn", SUPPORT_CODE, "verifiziert"),
    ]
    results = []
    for kind, text, expected in turns:
        started = time.perf_counter()
        try:
            reply = send(stack.rest_url, sender, text)
            ok = any(expected in (m.get("text") or "") for m in reply)
        except OSError:
            ok = False
        results.append((kind, time.perf_counter() - started, ok))
    return results


def memory_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def run(stack: Stack, concurrency: int, rounds: int) -> list[list[object]]:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        outcomes = [t for turns in pool.map(lambda r: conversation(stack, r), range(rounds))
                    for t in turns]  # fmt: skip
    wall = time.perf_counter() - started
    rows = []
    for kind in ("kb", "form start", "form turn"):
        times = [seconds * 1000 for k, seconds, _ in outcomes if k == kind]
        errors = sum(1 for k, _, ok in outcomes if k == kind and not ok)
        rows.append(
            [concurrency, kind, len(times), percentile(times, 50), percentile(times, 95), errors]
        )
    rows.append([concurrency, "all", len(outcomes), "", "", f"{len(outcomes) / wall:.1f} msg/s"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="Dialogue latency through the REST webhook")
    parser.add_argument("--rounds", type=int, default=30, help="conversations per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp))
        load_demo_data(settings)
        with Stack(settings, model=bot_model_path(load_settings())) as stack:
            conversation(stack, 0)  # first-call costs are not what a customer waits for
            rows = run(stack, 1, args.rounds) + run(stack, 20, args.rounds * 2)
            header = ["concurrent", "turn", "messages", "p50 ms", "p95 ms", "errors / rate"]
            print(table(header, rows))
            for server in stack.servers:
                assert server.process is not None
                now, peak = memory_mb(server.process.pid)
                print(f"{server.name}: RSS {now:.0f} MB, peak {peak:.0f} MB")


if __name__ == "__main__":
    main()
