"""Search speed and size: latency with the model warm, index build, start-up, memory.

    .venv/bin/python -m bench.speed [--chunks 50000]

Runs on the real KB and on a synthetic KB of ``--chunks`` sections (bench/synthetic.py).
Start-up is measured in a fresh process: imports, model load and index load from disk, up
to the first answered query.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import load_questions, percentile, table
from bench.synthetic import SyntheticEmbedder, write_kb
from helpdesk.config import REPO_ROOT, Settings, load_settings
from kb.store import ArticleStore
from retrieval.embeddings import load_embedder, resolve_model
from retrieval.service import Retriever

STARTUP_PROBE = """
import json, time
from bench.speed import peak_rss_mb
started = time.perf_counter()
from retrieval.service import get_retriever
retriever = get_retriever()
report = retriever.load()
loaded = time.perf_counter()
retriever.search("Wie ändere ich meine Rechnungsadresse?")
print(json.dumps({
    "load_s": loaded - started,
    "first_answer_s": time.perf_counter() - started,
    "from_disk": report.loaded_from_disk,
    "rss_mb": peak_rss_mb(),
}))
"""


def peak_rss_mb() -> float:
    """This process's own peak (VmHWM): ru_maxrss of a child also counts the parent it was
    forked from."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency(
    retriever: Retriever, queries: list[str], tag: str, rounds: int = 3
) -> tuple[float, float]:
    """Search latency with the model warm; every query is new to the query-vector cache."""
    for query in queries:
        # torch prepares kernels per input length on first sight: warm them all up.
        retriever.search(f"{query} {tag}!")
    timings = []
    for round_ in range(rounds):
        for query in queries:
            started = time.perf_counter()
            retriever.search(f"{query} {tag}{'?' * (round_ + 2)}")
            timings.append((time.perf_counter() - started) * 1000)
    return percentile(timings, 50), percentile(timings, 95)


def startup(settings: Settings) -> dict:
    env = {
        **os.environ,
        "HELPDESK_KB_DIR": str(settings.kb_dir),
        "HELPDESK_DATA_DIR": str(settings.data_dir),
        "HELPDESK_EMBEDDING_MODEL": settings.embedding_model,
    }
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", STARTUP_PROBE],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=50_000)
    args = parser.parse_args()
    base = load_settings()
    model = resolve_model(base)
    queries = [q.text for q in load_questions()]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # The real KB, built cold (no cached vectors) with the real model.
        seed = dataclasses.replace(base, data_dir=Path(tmp) / "seed", embedding_model=model)
        embedder = load_embedder(seed)
        retriever = Retriever(seed, embedder=embedder)
        report = retriever.rebuild()
        p50, p95 = latency(retriever, queries, "a")
        boot = startup(seed)
        units = len(retriever.index.units)
        per_1000 = report.took_ms / 1000 / report.chunks * 1000
        rows.append(
            [
                "real KB",
                report.chunks,
                units,
                f"{report.took_ms / 1000:.1f} s",
                f"{per_1000:.0f} s",
                p50,
                p95,
                f"{boot['first_answer_s']:.1f} s",
                f"{boot['rss_mb']:.0f}",
            ]
        )
        # The synthetic KB: real queries, synthetic passage vectors (bench/synthetic.py).
        big = dataclasses.replace(
            seed, kb_dir=Path(tmp) / "big" / "kb", data_dir=Path(tmp) / "big" / "var"
        )
        write_kb(ArticleStore(base.kb_dir), big.kb_dir, args.chunks)
        basis = retriever.index.vectors[: retriever.index.units.n_searchable]
        synthetic = Retriever(big, embedder=SyntheticEmbedder(embedder, basis))
        started = time.perf_counter()
        big_report = synthetic.rebuild()
        build_s = time.perf_counter() - started
        print(f"synthetic index built in {build_s:.1f} s", file=sys.stderr, flush=True)
        big_retriever = Retriever(big, embedder=embedder)
        big_retriever.load()
        p50, p95 = latency(big_retriever, queries, "b")
        started = time.perf_counter()
        big_retriever.reindex([1])  # one article re-read and re-encoded by the real model
        reindex_s = time.perf_counter() - started
        boot_big = startup(big)
        rows.append(
            [
                f"synthetic ({args.chunks:,} sections)",
                big_report.chunks,
                len(big_retriever.index.units),
                f"{build_s:.1f} s (no encoding)",
                "-",
                p50,
                p95,
                f"{boot_big['first_answer_s']:.1f} s",
                f"{boot_big['rss_mb']:.0f}",
            ]
        )
    header = [
        "KB",
        "sections",
        "vectors",
        "index build",
        "build per 1,000 sections",
        "search p50 ms",
        "search p95 ms",
        "start-up to first answer",
        "start-up RSS MB",
    ]
    print(table(header, rows))
    peak = peak_rss_mb()
    print(
        f"\npeak RSS of this benchmark process: {peak:.0f} MB; start-up loaded from disk: "
        f"{boot['from_disk']} / {boot_big['from_disk']}; re-indexing one article of the "
        f"synthetic KB: {reindex_s:.1f} s"
    )


if __name__ == "__main__":
    main()
