"""Load test of the chat API on loopback: many customers at once, each running scripted
conversations (KB questions, code verification, handoffs; see ``bench/load_scripts.py``)
back to back, with a think time between messages.

Starts its own stack (actions server, Rasa, web app) on free ports with a private data
folder and the demo data, and rate limits raised out of the way. Every simulated customer
connects from its own loopback address (127.0.x.y), as customers come from their own
addresses: the per-address rate limit and code lockout then apply per customer, as in
production. At the end every conversation is read back (``GET …/messages?after=0``): each
acknowledged customer message must be stored, in order, and be followed by a reply.

    .venv/bin/python -m bench.load                      # 50 customers, 60 s, think 1-3 s
    .venv/bin/python -m bench.load --think 0 --users 20 # saturation: no pauses
    .venv/bin/python -m bench.load --duration 10 --users 5 --json --check

Think time: before each message a customer pauses uniformly 1-3 s (``--think``), about the
time to read a short answer or click a button; real customers type slower, so this is the
busy end. ``--think 0`` sends back to back: the saturation throughput.

Reported: messages per second, latency of each message request (the customer's POST until
the bot's replies are in) as p50/p95/p99/max overall and per kind, errors by type (HTTP
status, timeout, no reply, an unexpected reply such as a failed verification, limited
service because Rasa did not answer in time), lost messages, and the resident memory of
every process of each server at the end and its peak (sampled every second).

Targets (``--check`` exits 1 when one is missed): no errors, no lost messages, p95 of the
message latency at most 500 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bench.common import percentile, table
from bench.load_scripts import WRONG_CODES_PER_CUSTOMER, Scripts, Step, kb_questions
from bench.private_stack import load_demo_data, private_settings
from bench.rss import MemorySampler, cpu_seconds, process_tree
from core.settings import Settings, load_settings
from helpdesk.stack import ServerProcess, Stack, bot_model_path
from support.code_format import mask_codes

KINDS = ("kb", "feedback", "verify", "code", "code_wrong", "handoff")
P95_TARGET_MS = 500.0
HIGH_LIMIT = "100000/minute"


# --- the stack ----------------------------------------------------------------------------


def bench_settings(root: Path, args: argparse.Namespace) -> Settings:
    return private_settings(
        root,
        database_url=args.database_url,
        tracker_store_url=args.tracker_store_url,
        lock_store_url=args.lock_store_url,
        rasa_workers=args.rasa_workers,
        # All traffic comes from this machine: the limits must not be what is measured.
        chat_rate_limit=HIGH_LIMIT,
        verify_rate_limit=HIGH_LIMIT,
    )


# --- one simulated customer ---------------------------------------------------------------


class SourceAddressAdapter(HTTPAdapter):
    """Connections from a given local address (any 127.x.y.z reaches the loopback server)."""

    def __init__(self, address: str, **kwargs: Any) -> None:
        self.address = address
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def customer_address(index: int) -> str:
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


@dataclass
class Sample:
    kind: str
    ms: float
    done: float  # time.monotonic() when the answer was in
    error: str | None = None  # None: the request did what it should


@dataclass
class Sent:
    """A customer message the API acknowledged (200), and what should be stored for it."""

    message_id: int
    stored_text: str
    reply_ids: list[int]


@dataclass
class ConversationLog:
    conversation_id: str
    script: str
    sent: list[Sent] = field(default_factory=list)
    handed_off: bool = False


class Customer(threading.Thread):
    def __init__(
        self,
        index: int,
        base_url: str,
        *,
        think: tuple[float, float],
        deadline: float,
        timeout: float,
        seed: int,
        same_address: bool,
    ) -> None:
        super().__init__(name=f"customer-{index}", daemon=True)
        self.base_url = base_url
        self.think = think
        self.deadline = deadline
        self.timeout = timeout
        self.rng = random.Random(seed * 1000 + index)
        # One address shared by all: no wrong codes, or the address's lockout would hit.
        self.scripts = Scripts(
            self.rng, wrong_codes=0 if same_address else WRONG_CODES_PER_CUSTOMER
        )
        self.http = requests.Session()
        if not same_address:
            adapter = SourceAddressAdapter(customer_address(index))
            self.http.mount("http://", adapter)
        self.samples: list[Sample] = []
        self.conversations: list[ConversationLog] = []

    def pause(self) -> None:
        low, high = self.think
        if high > 0:
            time.sleep(max(0.0, min(self.rng.uniform(low, high), self.deadline - time.monotonic())))

    def run(self) -> None:
        # Customers arrive spread over the first think time, not all in the same instant.
        time.sleep(self.rng.uniform(0, self.think[1]))
        while time.monotonic() < self.deadline:
            self.conversation()

    def _request(self, method: str, path: str, kind: str, **kwargs: Any) -> dict | None:
        started = time.perf_counter()
        error = None
        body = None
        try:
            response = self.http.request(
                method, self.base_url + path, timeout=self.timeout, **kwargs
            )
            if response.status_code not in (200, 201):
                error = f"HTTP {response.status_code}"
            else:
                body = response.json()
        except requests.Timeout:
            error = "timeout"
        except requests.ConnectionError:
            error = "connection"
        except ValueError:
            error = "not JSON"
        ms = (time.perf_counter() - started) * 1000
        self.samples.append(Sample(kind, ms, time.monotonic(), error))
        return body

    def conversation(self) -> None:
        script, steps = self.scripts.next_conversation()
        body = self._request("POST", "/api/chat/conversations", "start")
        if body is None:
            self.pause()
            return
        log = ConversationLog(body["conversation_id"], script)
        self.conversations.append(log)
        for step in steps:
            self.pause()
            if time.monotonic() >= self.deadline:
                return
            reply = self.say(log, step)
            if reply is None or log.handed_off or step.ends:
                return
            feedback = [
                b for m in reply for b in m.get("buttons") or [] if "feedback" in b["payload"]
            ]
            if feedback and self.scripts.wants_feedback():
                self.pause()
                if time.monotonic() >= self.deadline:
                    return
                button = self.rng.choice(feedback)
                self.say(
                    log,
                    Step("feedback", button["payload"]),
                    display=button["title"],
                )

    def say(self, log: ConversationLog, step: Step, display: str | None = None) -> list | None:
        """Send one message; the bot's replies, or None when the request failed."""
        payload = {"text": step.text} | ({"display": display} if display else {})
        path = f"/api/chat/conversations/{log.conversation_id}/messages"
        body = self._request("POST", path, step.kind, json=payload)
        if body is None:
            return None
        sample = self.samples[-1]
        messages = body.get("messages") or []
        if not messages or messages[0].get("sender") != "customer":
            sample.error = "customer message not echoed"
            return None
        customer, replies = messages[0], messages[1:]
        log.sent.append(
            Sent(customer["id"], mask_codes(display or step.text), [m["id"] for m in replies])
        )
        log.handed_off = body.get("state") != "bot"
        if not replies:
            sample.error = "no reply"
        elif any(m.get("limited") for m in replies):
            sample.error = "limited service (Rasa not reachable in time)"
        elif step.expect and not _contains(replies, step.expect):
            sample.error = f"unexpected reply to {step.kind}"
        elif step.kind == "handoff" and not log.handed_off:
            sample.error = "handoff did not leave the bot"
        return replies


def _contains(replies: list[dict], words: tuple[str, ...]) -> bool:
    text = " ".join(m.get("text") or "" for m in replies).lower()
    return any(word.lower() in text for word in words)


# --- checking the transcripts -------------------------------------------------------------


def lost_messages(base_url: str, conversations: list[ConversationLog]) -> Counter[str]:
    """Problems per kind: a message or reply not stored, out of order, or left unanswered."""
    problems: Counter[str] = Counter()
    http = requests.Session()
    for log in conversations:
        if not log.sent:
            continue
        response = http.get(
            f"{base_url}/api/chat/conversations/{log.conversation_id}/messages",
            params={"after": 0},
            timeout=30,
        )
        if response.status_code != 200:
            problems[f"transcript HTTP {response.status_code}"] += len(log.sent)
            continue
        stored = response.json()["messages"]
        position = {m["id"]: n for n, m in enumerate(stored)}
        last = -1
        for sent in log.sent:
            n = position.get(sent.message_id)
            if n is None:
                problems["customer message not stored"] += 1
                continue
            message = stored[n]
            if message["sender"] != "customer" or message["text"] != sent.stored_text:
                problems["stored text differs"] += 1
            if n < last:
                problems["out of order"] += 1
            last = n
            if any(reply_id not in position for reply_id in sent.reply_ids):
                problems["reply not stored"] += 1
            following = stored[n + 1] if n + 1 < len(stored) else None
            if following is None or following["sender"] == "customer":
                problems["no stored reply"] += 1
    return problems


# --- the report ---------------------------------------------------------------------------


def latency_row(name: str, samples: list[Sample]) -> list[object]:
    times = [s.ms for s in samples]
    errors = sum(1 for s in samples if s.error)
    if not times:
        return [name, 0, "", "", "", "", 0]
    figures = [percentile(times, pct) for pct in (50, 95, 99)] + [max(times)]
    return [name, len(samples), *(f"{ms:.0f}" for ms in figures), errors]


def summarise(
    args: argparse.Namespace,
    customers: list[Customer],
    elapsed: float,
    problems: Counter[str],
    memory: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    samples = [s for c in customers for s in c.samples]
    messages = [s for s in samples if s.kind != "start"]
    conversations = [log for c in customers for log in c.conversations]
    errors = Counter(s.error for s in samples if s.error)
    p95 = percentile([s.ms for s in messages], 95) if messages else float("inf")

    def stats(group: list[Sample]) -> dict[str, Any]:
        times = [s.ms for s in group]
        if not times:  # NaN is not JSON
            return dict.fromkeys(("p50_ms", "p95_ms", "p99_ms", "max_ms")) | {"n": 0, "errors": 0}
        return {
            "n": len(group),
            "p50_ms": round(percentile(times, 50), 1),
            "p95_ms": round(percentile(times, 95), 1),
            "p99_ms": round(percentile(times, 99), 1),
            "max_ms": round(max(times), 1),
            "errors": sum(1 for s in group if s.error),
        }

    lost = sum(problems.values())
    total = max(len(messages), 1)
    return {
        "users": args.users,
        "duration_s": round(elapsed, 1),
        "think_s": list(args.think),
        "conversations": len(conversations),
        "handoffs": sum(1 for log in conversations if log.handed_off),
        "messages": len(messages),
        "messages_per_s": round(len(messages) / elapsed, 2) if elapsed else 0.0,
        "mix": {k: round(sum(s.kind == k for s in messages) / total, 3) for k in KINDS},
        "latency": {
            "messages": stats(messages),
            "start": stats([s for s in samples if s.kind == "start"]),
            **{k: stats([s for s in messages if s.kind == k]) for k in KINDS},
        },
        "errors": dict(errors),
        "lost": lost,
        "lost_by_type": dict(problems),
        "rss_mb": memory,
        "targets": {
            "no_errors": not errors,
            "no_lost_messages": lost == 0,
            "p95_ok": p95 <= args.p95_target,
            "p95_target_ms": args.p95_target,
        },
    }


def print_report(
    result: dict[str, Any], customers: list[Customer], *, with_targets: bool = True
) -> None:
    samples = [s for c in customers for s in c.samples]
    messages = [s for s in samples if s.kind != "start"]
    print(
        f"{result['users']} customers, {result['duration_s']} s, think "
        f"{result['think_s'][0]:g}-{result['think_s'][1]:g} s: {result['messages']} messages in "
        f"{result['conversations']} conversations ({result['handoffs']} handed off), "
        f"{result['messages_per_s']} messages/s"
    )
    rows = [latency_row("all messages", messages)]
    rows += [latency_row(k, [s for s in messages if s.kind == k]) for k in KINDS]
    rows.append(latency_row("new conversation", [s for s in samples if s.kind == "start"]))
    header = ["request", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"]
    print(table(header, rows))
    mix = ", ".join(f"{k} {v * 100:.0f} %" for k, v in result["mix"].items())
    print(f"mix: {mix}")
    errors = result["errors"]
    print("errors: " + (", ".join(f"{k}: {v}" for k, v in errors.items()) if errors else "none"))
    lost = result["lost_by_type"]
    print("lost messages: " + (", ".join(f"{k}: {v}" for k, v in lost.items()) if lost else "0"))
    memory_rows = [
        [
            name,
            len(m["processes"]),
            f"{m['end']:.0f}",
            f"{m['peak']:.0f}",
            f"{m['cpu_s']:.1f}",
            f"{m['cpu_s'] * 1000 / max(result['messages'], 1):.0f}",
            ", ".join(f"{p['pid']} {p['name']} {p['rss_mb']:.0f}" for p in m["processes"]),
        ]
        for name, m in result["rss_mb"].items()
    ]
    header = ["service", "processes", "RSS end MB", "RSS peak MB", "CPU s", "CPU ms/message"]
    print(table([*header, "pid name MB"], memory_rows))
    if not with_targets:
        return
    targets = result["targets"]
    verdict = "met" if all(v for k, v in targets.items() if k != "p95_target_ms") else "MISSED"
    print(
        f"targets {verdict}: no errors {targets['no_errors']}, no lost messages "
        f"{targets['no_lost_messages']}, p95 <= {targets['p95_target_ms']:g} ms "
        f"{targets['p95_ok']}"
    )


def memory_report(
    servers: list[ServerProcess], sampler: MemorySampler
) -> dict[str, dict[str, Any]]:
    report = {}
    for server in servers:
        assert server.process is not None
        tree = process_tree(server.process.pid)
        report[server.name] = {
            "end": round(sum(p.rss_mb for p in tree), 1),
            "peak": round(sampler.peak_mb.get(server.name, 0.0), 1),
            "processes": [
                {
                    "pid": p.pid,
                    "name": p.name,
                    "rss_mb": round(p.rss_mb, 1),
                    "hwm_mb": round(p.hwm_mb, 1),
                }
                for p in tree
            ],
        }
    return report


# --- main ---------------------------------------------------------------------------------


def think_range(value: str) -> tuple[float, float]:
    low, _, high = value.partition("-")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError("expected seconds, e.g. 0, 2 or 1-3") from None
    if pair[0] < 0 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError("expected 0 <= low <= high")
    return pair


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Load test of the chat API on loopback")
    parser.add_argument("--users", type=int, default=50, help="concurrent customers")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument(
        "--think",
        type=think_range,
        default=(1.0, 3.0),
        help="pause before each message, uniform in LOW-HIGH seconds (default 1-3; 0: none)",
    )
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--p95-target", type=float, default=P95_TARGET_MS)
    parser.add_argument(
        "--same-address",
        action="store_true",
        help="all customers from 127.0.0.1 (then no wrong codes: the lockout is per address)",
    )
    parser.add_argument("--database-url", help="default: SQLite in the private folder")
    parser.add_argument("--tracker-store-url", help="default: SQLite in the private folder")
    parser.add_argument("--lock-store-url", help="Rasa's lock store, e.g. redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--rasa-workers", type=int, help="Rasa server processes (default: HELPDESK_RASA_WORKERS)"
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def warm_up(base_url: str) -> None:
    """One conversation of each kind: first-call costs are not what a customer waits for."""
    http = requests.Session()
    for texts in (
        [kb_questions()[0], "/feedback_helpful"],
        ["Ich möchte mich mit meinem Supportcode verifizieren", "482913"],
        ["Ich möchte mit einem Mitarbeiter sprechen"],
    ):
        conversation = http.post(f"{base_url}/api/chat/conversations", timeout=60).json()
        for text in texts:
            http.post(
                f"{base_url}/api/chat/conversations/{conversation['conversation_id']}/messages",
                json={"text": text},
                timeout=60,
            ).raise_for_status()


def run_customers(base_url: str, args: argparse.Namespace) -> tuple[list[Customer], float]:
    """``args.users`` customers against ``base_url`` for ``args.duration`` seconds; they and
    the seconds until the last answer came in."""
    print(f"{args.users} customers for {args.duration:g} s ...", file=sys.stderr)
    started = time.monotonic()
    customers = [
        Customer(
            n,
            base_url,
            think=args.think,
            deadline=started + args.duration,
            timeout=args.timeout,
            seed=args.seed,
            same_address=args.same_address,
        )
        for n in range(args.users)
    ]
    for customer in customers:
        customer.start()
    for customer in customers:
        customer.join()
    # Until the last answer came in: customers stop once the time is up.
    last = max((s.done for c in customers for s in c.samples), default=started)
    return customers, max(last - started, 1e-9)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="helpdesk-load-") as tmp:
        settings = bench_settings(Path(tmp), args)
        load_demo_data(settings)
        print(f"starting the stack in {tmp} ...", file=sys.stderr)
        with Stack(settings, model=bot_model_path(load_settings())) as stack:
            base_url = settings.web_url
            warm_up(base_url)
            pids = {s.name: s.process.pid for s in stack.servers if s.process is not None}
            sampler = MemorySampler(pids)
            sampler.start()
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            customers, elapsed = run_customers(base_url, args)
            sampler.stop()
            cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
            memory = memory_report(stack.servers, sampler)
            for name, used in cpu.items():
                memory[name]["cpu_s"] = round(used, 1)  # during the load, not the checks
            problems = lost_messages(base_url, [c for x in customers for c in x.conversations])
        result = summarise(args, customers, elapsed, problems, memory)
    print_report(result, customers)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    targets = result["targets"]
    missed = not (targets["no_errors"] and targets["no_lost_messages"] and targets["p95_ok"])
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
