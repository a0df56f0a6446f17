"""Streaming batch scoring at scale: wall time, rows/s, peak memory, and kill -9 + --resume.

Writes a CSV of ``--rows`` rows (``id``, ``text`` sampled from the GoEmotions texts) to a
temp folder and runs ``emotag predict --input in.csv --output out.csv`` as a child process:

1. an uninterrupted run;
2. the same run killed with SIGKILL once its progress file reports ``--kill-after-rows``
   rows, then continued with ``--resume``.

Peak RSS is the largest resident set of the child's process tree, polled with psutil (when
installed); without psutil it falls back to ``resource.getrusage(RUSAGE_CHILDREN)``, the
largest child so far (so later runs show at least the earlier runs' peak). The two outputs
must be identical row for row (same bytes; if not, the first differing row is reported).
Memory must not grow with ``--rows``: the scorer holds one chunk at a time.

    python benchmarks/bench_batch_scoring.py                 # 1,000,000 rows (long)
    python benchmarks/bench_batch_scoring.py --rows 3000     # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotag.data.datasets import load_goemotions

try:
    import psutil
except ImportError:  # pragma: no cover - optional
    psutil = None


@dataclass
class RunStats:
    name: str
    seconds: float
    rows: int
    peak_rss_mb: float
    returncode: int
    scoring_s: float | None = None  #: the CLI's own timing: scoring only, no start-up

    @property
    def scoring_rows_per_s(self) -> str:
        if not self.scoring_s:
            return "-"
        return f"{self.rows / self.scoring_s:,.0f}"

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def write_input(path: Path, rows: int, seed: int = 0, block: int = 100_000) -> None:
    """``rows`` rows of (id, text) sampled with replacement from every GoEmotions split,
    written a block at a time (the input itself never sits in memory either)."""
    texts = [t for split in load_goemotions().values() for t in split.texts]
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        for start in range(0, rows, block):
            picks = rng.integers(0, len(texts), size=min(block, rows - start))
            w.writerows((f"r{start + i:08d}", texts[j]) for i, j in enumerate(picks))


def tree_rss(proc: object) -> int:
    """Resident bytes of a psutil process and its children (0 once it is gone)."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run(name: str, cmd: list[str], progress_file: Path | None = None,
        kill_after_rows: int | None = None) -> RunStats:
    """Run ``cmd``; with ``kill_after_rows``, SIGKILL it once the progress file says so."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # small outputs: the pipes never fill
    watched = psutil.Process(proc.pid) if psutil is not None else None
    peak, rows_seen, killed = 0, 0, False
    while proc.poll() is None:
        if watched is not None:
            peak = max(peak, tree_rss(watched))
        if kill_after_rows is not None and progress_file is not None:
            rows_seen = max(rows_seen, _rows_done(progress_file))
            if rows_seen >= kill_after_rows:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                proc.wait()
                rows_seen = _rows_done(progress_file)  # what was committed when it died
                break
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    stdout = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
    stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.returncode != 0 and not killed:
        raise SystemExit(f"{name} failed ({proc.returncode}):\n{stderr}")
    if kill_after_rows is not None and not killed:
        print(f"note: {name} finished before reaching {kill_after_rows} rows; nothing killed")
    if watched is None:
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    rows = rows_seen if killed else 0  # the caller fills in rows of complete runs
    timed = re.search(r"scored [\d,]+ in ([\d.]+) s", stdout + stderr)
    return RunStats(name, seconds, rows, peak / 2**20, proc.returncode,
                    float(timed.group(1)) if timed else None)


def _rows_done(progress_file: Path) -> int:
    try:
        return int(json.loads(progress_file.read_text())["rows_done"])
    except (OSError, ValueError, KeyError):
        return 0


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def first_difference(a: Path, b: Path, chunk: int = 50_000) -> str:
    """Where two CSV outputs first differ, read a chunk at a time ('' if they do not)."""
    import pandas as pd

    ra = pd.read_csv(a, dtype=str, keep_default_na=False, chunksize=chunk)
    rb = pd.read_csv(b, dtype=str, keep_default_na=False, chunksize=chunk)
    start = 0
    for ca, cb in zip(ra, rb, strict=False):
        if list(ca.columns) != list(cb.columns):
            return f"columns differ: {list(ca.columns)} vs {list(cb.columns)}"
        if len(ca) != len(cb):
            return f"row counts differ after row {start}"
        diff = (ca.values != cb.values).any(axis=1)
        if diff.any():
            i = int(np.flatnonzero(diff)[0])
            return f"row {start + i + 1} differs: {ca.iloc[i].to_dict()} vs {cb.iloc[i].to_dict()}"
        start += len(ca)
    return ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--chunk-size", type=int, default=None,
                    help="rows per chunk (default: 5000, or rows/20 for small --rows so that "
                         "the kill lands mid-run)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--kill-after-rows", type=int, default=None,
                    help="SIGKILL the second run after this many rows (default: half)")
    ap.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    ap.add_argument("--workdir", default=None, help="keep the files here (default: a temp "
                    "folder, removed at the end)")
    ap.add_argument("--skip-uninterrupted", action="store_true",
                    help="only the killed + resumed pair (time and peak memory at full size; "
                         "compare outputs on a smaller --rows run)")
    a = ap.parse_args()
    kill_after = a.kill_after_rows if a.kill_after_rows is not None else a.rows // 2
    chunk_size = a.chunk_size or min(5000, max(1, a.rows // 20))
    if not 0 < kill_after < a.rows or kill_after < chunk_size:
        raise SystemExit(f"--kill-after-rows {kill_after} must be between --chunk-size "
                         f"{chunk_size} and --rows {a.rows} for the kill to land mid-run")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        src = work / "in.csv"
        t0 = time.perf_counter()
        write_input(src, a.rows)
        print(f"wrote {a.rows:,} rows ({src.stat().st_size / 2**20:.1f} MiB) in "
              f"{time.perf_counter() - t0:.1f} s; chunks of {chunk_size:,} rows; peak RSS by "
              f"{'psutil polling' if psutil else 'getrusage(RUSAGE_CHILDREN)'}", flush=True)

        def cmd(out: Path, *extra: str) -> list[str]:
            c = [sys.executable, "-m", "emotag.cli.app", "predict"]
            c += [a.model] if a.model else []
            c += ["--input", str(src), "--output", str(out), "--chunk-size",
                  str(chunk_size), "--no-progress", *extra]
            return c + (["--threads", str(a.threads)] if a.threads else [])

        whole, resumed = work / "whole.csv", work / "resumed.csv"
        stats: list[RunStats] = []
        if not a.skip_uninterrupted:
            stats.append(run("uninterrupted", cmd(whole)))
            stats[-1].rows = a.rows
            print(f"  uninterrupted: {stats[-1].seconds:.1f} s", flush=True)
        killed = run("killed (SIGKILL)", cmd(resumed),
                     progress_file=resumed.with_name(resumed.name + ".progress.json"),
                     kill_after_rows=kill_after)
        stats.append(killed)
        was_killed = killed.returncode == -signal.SIGKILL
        if was_killed:
            print(f"  killed after {killed.rows:,} committed rows", flush=True)
        else:
            killed.rows = a.rows
            print("  WARNING: the run ended before the kill; the --resume run starts over")
        resume = run("--resume", cmd(resumed, "--resume"))
        resume.rows = a.rows - killed.rows if was_killed else a.rows
        stats.append(resume)

        print("\n| run | wall s | rows | rows/s (wall) | rows/s (scoring) | peak RSS MiB |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for s in stats:
            print(f"| {s.name} | {s.seconds:.1f} | {s.rows:,} | {s.rows_per_s:,.0f} | "
                  f"{s.scoring_rows_per_s} | {s.peak_rss_mb:,.0f} |")
        print("\nwall: the whole child process (imports and model load included); scoring: "
              "the time emotag reports for reading, scoring and writing rows")
        total = killed.seconds + resume.seconds
        if a.skip_uninterrupted:
            print(f"\nkilled + resumed wall time: {total:.1f} s; {a.rows:,} rows in "
                  f"{resumed.stat().st_size / 2**20:.1f} MiB (outputs not compared: "
                  "--skip-uninterrupted)")
            return
        print(f"\nkilled + resumed wall time: {total:.1f} s (uninterrupted "
              f"{stats[0].seconds:.1f} s)")
        if sha256(whole) == sha256(resumed):
            print(f"outputs identical: {whole.stat().st_size / 2**20:.1f} MiB, same sha256, "
                  f"{a.rows:,} rows")
        else:
            problem = first_difference(whole, resumed) or "bytes differ, rows equal"
            print(f"OUTPUTS DIFFER: {problem}")
            raise SystemExit(1)

if __name__ == "__main__":
    main()
