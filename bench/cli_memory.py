"""Peak memory of `qa-service sentiment` on growing files: streaming means it stays flat.

    python -m bench.cli_memory                       # 5,000 and 50,000 rows
    python -m bench.cli_memory --rows 10000 200000

Each run is a separate process reading a generated CSV of real tweets (TASS 2019, repeated) and writing
JSONL to a file; peak RSS comes from the kernel (ru_maxrss of the child). Results, with the model that labelled
them, the command and the commit, go to bench/results/cli_memory.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(rows: int, texts: list[str], tmp: Path) -> dict[str, float | str | None]:
    src = tmp / f"in-{rows}.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        for i in range(rows):
            w.writerow([f"c{i}", texts[i % len(texts)]])
    out = tmp / f"out-{rows}.jsonl"
    code = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(p.returncode)")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "qa_service.cli", "sentiment", str(src),
                           "-o", str(out)], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-1000:])
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    with out.open(encoding="utf-8") as fh:
        model = json.loads(fh.readline()).get("model_version")
        n_out = 1 + sum(1 for _ in fh)
    assert n_out == rows, (n_out, rows)
    return {"rows": rows, "peak_rss_mb": round(peak_kb / 1024, 1), "seconds": round(seconds, 1),
            "rows_per_s": round(rows / seconds, 1), "model": model}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cli_memory", description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[5000, 50000])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "cli_memory.json")
    args = ap.parse_args(argv)
    if min(args.rows) < 1:
        ap.error("--rows must be at least 1")
    if args.out.is_dir():
        ap.error(f"--out {args.out} is a directory: name a file")
    from eval.provenance import git_commit

    # The code that measures, recorded before anything runs (result files do not count as changes).
    commit = git_commit(dirty_mark="+uncommitted", exclude=("bench/results",))
    try:
        from eval.datasets import tass2019

        texts, source = tass2019("test").texts, "tass2019/test (real tweets, repeated)"
    except Exception:  # noqa: BLE001 - the benchmark still runs without ../shared/data, and says so
        texts = ["Me han cobrado dos veces la factura.", "Gracias por la ayuda.", "The app keeps crashing."]
        source = "three fixed texts (../shared/data not readable)"
    with tempfile.TemporaryDirectory() as d:
        results = [run(n, texts, Path(d)) for n in args.rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "runs": results, "texts": source, "cpu_count": os.cpu_count(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python -m bench.cli_memory " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": commit}, indent=1) + "\n")
    print(f"| rows | peak RSS | wall time | rows/s |  ({os.cpu_count()} cores)\n|---|---|---|---|")
    for r in results:
        print(f"| {r['rows']:,} | {r['peak_rss_mb']} MB | {r['seconds']} s | {r['rows_per_s']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
