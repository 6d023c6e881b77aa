"""The load benchmark's own pieces (the benchmark itself needs the running stack)."""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
from collections import Counter

import pytest

from bench.load import customer_address, think_range
from bench.load_scripts import WRONG_CODES_PER_CUSTOMER, Scripts
from bench.rss import MemorySampler, process_tree


def test_think_range():
    assert think_range("0") == (0.0, 0.0)
    assert think_range("1-3") == (1.0, 3.0)
    assert think_range("2.5") == (2.5, 2.5)
    for bad in ("x", "3-1", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            think_range(bad)


def test_customer_addresses_are_distinct_loopback_addresses():
    addresses = {customer_address(n) for n in range(600)}
    assert len(addresses) == 600
    assert all(a.startswith("127.") and a != "127.0.0.0" for a in addresses)


def test_message_mix_is_about_70_20_10():
    scripts = Scripts(random.Random(3), wrong_codes=10**6)
    kinds: Counter[str] = Counter()
    for _ in range(4000):
        _name, steps = scripts.next_conversation()
        kinds.update(step.kind for step in steps)
    total = sum(kinds.values())
    verification = (kinds["verify"] + kinds["code"] + kinds["code_wrong"]) / total
    # Ratings (added while running, after about one answer in five) belong to the KB share.
    assert 0.62 < kinds["kb"] / total < 0.72
    assert 0.17 < verification < 0.24
    assert 0.08 < kinds["handoff"] / total < 0.13


def test_wrong_codes_per_customer_stay_below_the_lockout():
    scripts = Scripts(random.Random(1))
    wrong = sum(
        step.kind == "code_wrong" for _ in range(500) for step in scripts.next_conversation()[1]
    )
    assert wrong == WRONG_CODES_PER_CUSTOMER < 5


def test_rss_of_a_process_tree_includes_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tree = process_tree(os.getpid())
        assert {os.getpid(), child.pid} <= {p.pid for p in tree}
        assert all(p.rss_mb > 0 for p in tree if p.pid in (os.getpid(), child.pid))
        sampler = MemorySampler({"me": os.getpid()}, interval=0.05)
        sampler.start()
        sampler.stop()
        assert sampler.samples >= 2 and sampler.peak_mb["me"] > 0
    finally:
        child.kill()
        child.wait()


def test_kb_messages_are_mostly_new_texts_so_caches_do_not_flatter():
    scripts = Scripts(random.Random(5))
    texts = [scripts.kb_step().text for _ in range(900)]  # about one run's KB messages
    assert len(set(texts)) / len(texts) > 0.75
