"""Single-process vs Ray Data batch scoring: wall time, rows/s, and row-for-row equality.

Writes a Parquet file of ``--rows`` rows (``id``, ``text`` sampled with replacement from the
GoEmotions texts; row groups of ``--batch-size`` rows) to a temp folder and scores it, each run
a child process of the real CLI:

1. ``emotag predict MODEL --input in.parquet --output single.parquet --chunk-size B``
   (one process, every core);
2. ``emotag predict MODEL --engine ray --input in.parquet --output ray-1/ --num-actors 1``
   (one actor with every core), on a local Ray started by the command;
3. the same with ``--num-actors 2`` (two actors, cores / 2 threads each).

All outputs must be equal row for row: ids, texts, ``pred_labels``, and every ``score_*``
column to 1e-5. The batches line up (blocks of exactly B rows on the Ray side, chunks of B
rows on the single-process side), so this holds for the shipped int8 model too, whose scores
depend on a text's batch-mates. Wall times include each child's start-up (Python, model
load, and for Ray its local cluster); the scoring time without start-up (the CLI's own
timing, less Ray's start-up) is shown beside them: it is what grows with the corpus.

    python benchmarks/bench_ray_scoring.py                  # 100,000 rows (long)
    python benchmarks/bench_ray_scoring.py --rows 2000      # smoke run
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotag.data.datasets import load_goemotions
from emotag.inference.predictor import DEFAULT_MODEL_DIR


@dataclass
class Run:
    name: str
    layout: str       #: "actors x threads"
    seconds: float    #: wall time of the child process
    cli_s: float      #: the CLI's own timing (scoring; Ray: start-up of the local Ray too)
    startup_s: float  #: Ray: starting the local Ray (0 for the single process)
    output: Path


def write_input(path: Path, rows: int, row_group: int, seed: int = 0) -> None:
    """``rows`` (id, text) rows sampled from every GoEmotions split, one Parquet file with
    row groups of ``row_group`` rows (so the single-process chunks are whole row groups)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [t for split in load_goemotions().values() for t in split.texts]
    picks = np.random.default_rng(seed).integers(0, len(texts), size=rows)
    table = pa.table({"id": [f"r{i:08d}" for i in range(rows)],
                      "text": [texts[j] for j in picks]})
    pq.write_table(table, path, row_group_size=row_group)


def run_cli(name: str, layout: str, args: list[str], output: Path) -> Run:
    cmd = [sys.executable, "-m", "emotag.cli.app", "predict", *args, "--no-progress"]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                        "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "200"}
    t0 = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if result.returncode != 0:
        sys.exit(f"{name} failed ({result.returncode}):\n{result.stdout[-2000:]}"
                 f"\n{result.stderr[-4000:]}")
    said = " ".join(result.stdout.split())
    timed = re.search(r" in ([\d.]+) s", said)
    startup = re.search(r"Ray start-up ([\d.]+) s", said)
    print(f"  {name}: {said[:260]}", flush=True)
    return Run(name, layout, seconds, float(timed.group(1)) if timed else float("nan"),
               float(startup.group(1)) if startup else 0.0, output)


def read_output(path: Path):  # noqa: ANN201 - a pyarrow Table (imported lazily)
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.is_dir():
        return pa.concat_tables(pq.read_table(f) for f in sorted(path.glob("part-*.parquet")))
    return pq.read_table(path)


def compare(reference, other, name: str, atol: float) -> float:  # noqa: ANN001
    """Exit with the first difference; return the largest score difference."""
    if reference.column_names != other.column_names:
        sys.exit(f"{name}: columns differ:\n  {reference.column_names}\n  {other.column_names}")
    if reference.num_rows != other.num_rows:
        sys.exit(f"{name}: {other.num_rows} rows, expected {reference.num_rows}")
    for column in ("id", "text", "pred_labels"):
        a, b = reference.column(column).to_pylist(), other.column(column).to_pylist()
        if a != b:
            row = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
            sys.exit(f"{name}: column {column!r} differs first at row {row}: {a[row]!r} vs "
                     f"{b[row]!r}")
    worst = 0.0
    for column in (c for c in reference.column_names if c.startswith("score_")):
        diff = np.abs(reference.column(column).to_numpy() - other.column(column).to_numpy())
        worst = max(worst, float(diff.max(initial=0.0)))
        if worst > atol:
            row = int(diff.argmax())
            sys.exit(f"{name}: {column} differs by {diff[row]:.2e} at row {row} (> {atol})")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="rows per chunk / Ray batch (default: rows / 20, 64..5000)")
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where inputs and outputs go (default: a new temp folder)")
    args = parser.parse_args()
    batch = args.batch_size or min(5000, max(64, args.rows // 20))
    cores = len(os.sched_getaffinity(0))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-ray-"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / "in.parquet"
    write_input(source, args.rows, batch)
    print(f"{args.rows:,} rows, batch {batch}, {cores} cores, model {args.model}, in {work}",
          flush=True)

    model = str(args.model)
    runs = [run_cli("single process", f"1 x {cores}",
                    [model, "--input", str(source), "--output", str(work / "single.parquet"),
                     "--chunk-size", str(batch)], work / "single.parquet")]
    for actors in (1, 2):
        out = work / f"ray-{actors}"
        runs.append(run_cli(f"ray, {actors} actor(s)", f"{actors} x {max(1, cores // actors)}",
                            [model, "--engine", "ray", "--input", str(source), "--output",
                             str(out), "--num-actors", str(actors), "--batch-size", str(batch)],
                            out))

    reference = read_output(runs[0].output)
    worst = {r.name: compare(reference, read_output(r.output), r.name, args.atol)
             for r in runs[1:]}
    base = runs[0].seconds
    scored = runs[0].cli_s
    print("\n| engine | actors x threads | wall s | rows/s | vs single | scoring s (no start-up)"
          " | vs single | max score diff |\n|---|---|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        net = r.cli_s - r.startup_s
        print(f"| {r.name} | {r.layout} | {r.seconds:.1f} | {args.rows / r.seconds:,.0f} | "
              f"{base / r.seconds:.2f}x | {net:.1f} | {scored / net:.2f}x | "
              f"{worst.get(r.name, 0.0):.1e} |")
    print(f"\nall {len(runs)} outputs equal row for row (ids, texts, labels; scores to "
          f"{args.atol:g})")


if __name__ == "__main__":
    main()
