"""Search speed and size: latency with the model warm, index build, start-up, memory.

    .venv/bin/python -m bench.speed [--chunks 50000]

Runs on the real KB and on a synthetic KB of ``--chunks`` sections (bench/synthetic.py).
Start-up is measured in a fresh process: imports, model load and index load from disk, up
to the first answered query. A second table splits a search: the index part (the same
searches with the query vector cached) and one query's encoding by each encoder, measured
interleaved on the same texts.
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
from core.settings import REPO_ROOT, Settings, load_settings
from kb.store import ArticleStore
from retrieval.embeddings import QUERY_MAX_TOKENS, load_embedder, resolve_model
from retrieval.lean_encoder import LeanQueryEncoder, native_bf16
from retrieval.retriever import Retriever

STARTUP_PROBE = """
import json, time
from bench.speed import peak_rss_mb
started = time.perf_counter()
from retrieval.retriever import get_retriever
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
) -> dict[str, tuple[float, float]]:
    """(p50, p95) of whole searches with the model warm, every query new to the query-vector
    cache ("search"), and of the same searches repeated with the vector cached, which is
    all but the encoding ("index": analysis, BM25, FAISS, ranking, decision)."""
    for query in queries:
        # torch prepares kernels per input length on first sight: warm them all up.
        retriever.search(f"{query} {tag}!")
    timings: dict[str, list[float]] = {"search": [], "index": []}
    for round_ in range(rounds):
        for query in queries:
            text = f"{query} {tag}{'?' * (round_ + 2)}"
            for part in ("search", "index"):
                started = time.perf_counter()
                retriever.search(text)
                timings[part].append((time.perf_counter() - started) * 1000)
    return {k: (percentile(v, 50), percentile(v, 95)) for k, v in timings.items()}


def encoder_latency(embedder, queries: list[str], rounds: int = 2) -> dict[str, tuple]:
    """(p50, p95) of one query's encoding, interleaved on the same texts (the order turns
    every query): the sentence-transformers path search used before, and the lean encoder
    in float32 and, where the CPU has it natively, bfloat16. Searches use the latter."""
    if getattr(embedder, "lean", None) is None:
        return {}
    prompt = embedder.model.prompts.get("query", "")
    name = "query" if prompt else None
    variants = {"sentence-transformers": lambda text: embedder._encode_one_reference(text, name)}
    for bf16 in (False, True) if native_bf16() else (False,):
        lean = LeanQueryEncoder(embedder.model, QUERY_MAX_TOKENS, bf16=bf16)
        label = f"lean {'bfloat16' if bf16 else 'float32'}"
        if bf16 == embedder.lean.bf16:
            label += " (used)"
        variants[label] = lambda text, lean=lean: lean.encode(prompt + text)
    timings: dict[str, list[float]] = {label: [] for label in variants}
    for round_ in range(rounds):
        for i, query in enumerate(queries):
            order = list(variants) if (i + round_) % 2 == 0 else list(variants)[::-1]
            for label in order:
                started = time.perf_counter()
                variants[label](f"{query} e{round_}")
                timings[label].append((time.perf_counter() - started) * 1000)
    return {k: (percentile(v, 50), percentile(v, 95)) for k, v in timings.items()}


def _ms(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.1f} / {pair[1]:.1f}"


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
        seed_times = latency(retriever, queries, "a")
        p50, p95 = seed_times["search"]
        encoding = encoder_latency(embedder, queries)
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
        big_times = latency(big_retriever, queries, "b")
        p50, p95 = big_times["search"]
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
    parts = [
        ["real KB", "index part (query vector cached)", _ms(seed_times["index"])],
        [
            f"synthetic ({args.chunks:,})",
            "index part (query vector cached)",
            _ms(big_times["index"]),
        ],
    ]
    parts += [["-", f"query encoding, {name}", _ms(pair)] for name, pair in encoding.items()]
    print()
    print(table(["KB", "part of a search", "p50 / p95 ms"], parts))
    peak = peak_rss_mb()
    print(
        f"\npeak RSS of this benchmark process: {peak:.0f} MB; start-up loaded from disk: "
        f"{boot['from_disk']} / {boot_big['from_disk']}; re-indexing one article of the "
        f"synthetic KB: {reindex_s:.1f} s"
    )


if __name__ == "__main__":
    main()
