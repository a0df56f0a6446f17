"""Load test of `emotag serve`: throughput and latency under 1, 16 and 64 concurrent clients.

Each client is a closed loop (send a request, wait for the answer, send the next) for a fixed
``--duration``, so the numbers say what a given number of busy callers gets, and the p99 shows
the queueing that throughput alone hides. Two request shapes are measured: one text per request
(an interactive caller) and ``--batch-size`` texts per request (a bulk caller). Texts are
sampled from the GoEmotions test split so their lengths are realistic.

The server is started here as a subprocess on a free 127.0.0.1 port (the model folder, and
``--no-micro-batch`` passed through), or an already running one is targeted with ``--url``.
``--compare-micro-batch`` runs the same load against a server with and without micro-batching
and prints the ratio: micro-batching should win when many clients send single texts.

The load generator shares the machine with a local server, so on few cores the absolute numbers
are a lower bound; the comparison between settings on one machine is what to read.

    python benchmarks/bench_service_load.py --duration 10
    python benchmarks/bench_service_load.py models/default --clients 1,16,64 --batch-size 16
    python benchmarks/bench_service_load.py --compare-micro-batch --modes single --duration 10
    python benchmarks/bench_service_load.py --url http://127.0.0.1:8000 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np

from emotag.data import load_goemotions
from emotag.paths import REPO_ROOT

DEFAULT_MODEL = REPO_ROOT / "models" / "default"


@dataclass
class Result:
    """One (server, mode, clients) setting."""

    server: str
    mode: str
    clients: int
    texts_per_request: int
    seconds: float
    requests: int
    errors: int
    requests_per_s: float
    texts_per_s: float
    p50_ms: float
    p99_ms: float
    first_error: str | None = None


# --------------------------------------------------------------------------- server process
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, log: Path | None,
                  timeout: float) -> None:
    """Poll ``/healthz`` until it answers 200; fail early if the server process died."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise SystemExit(f"emotag serve exited with {proc.returncode}:\n{tail}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url}/healthz not ready after {timeout:.0f} s")
        time.sleep(0.3)


@contextmanager
def serve(model_dir: Path, micro_batch: bool, extra: Sequence[str]) -> Iterator[str]:
    """Run ``emotag serve`` on a free local port for the duration of the block; yield its URL."""
    port = _free_port()
    cmd = [sys.executable, "-m", "emotag.cli.app", "serve", str(model_dir),
           "--host", "127.0.0.1", "--port", str(port), *extra]
    if not micro_batch:
        cmd.append("--no-micro-batch")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc, log, timeout=180)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --------------------------------------------------------------------------- load
async def _client(http: httpx.AsyncClient, url: str, texts: list[str], per_request: int,
                  deadline: float, rng: random.Random, latencies: list[float],
                  errors: list[str]) -> None:
    """One closed-loop caller: request after request until the deadline."""
    while time.perf_counter() < deadline:
        body = {"texts": rng.sample(texts, per_request)}
        t0 = time.perf_counter()
        try:
            r = await http.post(url, json=body)
        except httpx.HTTPError as e:  # timeouts, refused connections: errors, not crashes
            errors.append(f"{type(e).__name__}: {e}")
            await asyncio.sleep(0.05)  # a dead server must not turn this into a busy loop
            continue
        dt = time.perf_counter() - t0
        if 200 <= r.status_code < 300:
            latencies.append(dt)
        else:
            errors.append(f"HTTP {r.status_code}: {r.text[:200]}")


async def _run_load(url: str, texts: list[str], clients: int, per_request: int,
                    duration: float, seed: int, timeout: float) -> tuple[float, list[float],
                                                                         list[str]]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    latencies: list[float] = []
    errors: list[str] = []
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        endpoint = f"{url}/v1/predict"
        # warm-up, not counted: connections opened, first-call costs paid
        await asyncio.gather(*(http.post(endpoint, json={"texts": texts[:per_request]})
                               for _ in range(min(clients, 4))), return_exceptions=True)
        t0 = time.perf_counter()
        deadline = t0 + duration
        await asyncio.gather(*(
            _client(http, endpoint, texts, per_request, deadline, random.Random(seed + i),
                    latencies, errors)
            for i in range(clients)))
        elapsed = time.perf_counter() - t0  # includes the requests in flight at the deadline
    return elapsed, latencies, errors


def measure(url: str, server: str, mode: str, clients: int, per_request: int,
            texts: list[str], duration: float, seed: int, timeout: float) -> Result:
    """Run one setting and summarise it."""
    elapsed, lat, errors = asyncio.run(
        _run_load(url, texts, clients, per_request, duration, seed, timeout))
    ok = len(lat)
    ms = np.asarray(lat) * 1000.0
    return Result(
        server=server, mode=mode, clients=clients, texts_per_request=per_request,
        seconds=round(elapsed, 2), requests=ok, errors=len(errors),
        requests_per_s=ok / elapsed, texts_per_s=ok * per_request / elapsed,
        p50_ms=float(np.percentile(ms, 50)) if ok else float("nan"),
        p99_ms=float(np.percentile(ms, 99)) if ok else float("nan"),
        first_error=errors[0] if errors else None,
    )


# --------------------------------------------------------------------------- output
def print_table(title: str, rows: Sequence[Result]) -> None:
    print(f"\n{title}")
    head = (f"{'mode':<7} {'texts/req':>9} {'clients':>7} {'req/s':>9} {'texts/s':>9} "
            f"{'p50 ms':>9} {'p99 ms':>9} {'errors':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.mode:<7} {r.texts_per_request:>9} {r.clients:>7} {r.requests_per_s:>9.1f} "
              f"{r.texts_per_s:>9.1f} {r.p50_ms:>9.1f} {r.p99_ms:>9.1f} {r.errors:>6}")
    for r in rows:
        if r.first_error:
            print(f"  first error ({r.mode}, {r.clients} clients): {r.first_error}")


def print_ratio(on: Sequence[Result], off: Sequence[Result]) -> None:
    print("\nmicro-batching on / off (texts/s ratio > 1: micro-batching helps; "
          "p99 ratio < 1: it lowers tail latency)")
    print(f"{'mode':<7} {'clients':>7} {'texts/s on':>11} {'texts/s off':>11} {'ratio':>6} "
          f"{'p99 ratio':>9}")
    for a, b in zip(on, off, strict=True):
        ratio = a.texts_per_s / b.texts_per_s if b.texts_per_s else float("nan")
        p99 = a.p99_ms / b.p99_ms if b.p99_ms else float("nan")
        print(f"{a.mode:<7} {a.clients:>7} {a.texts_per_s:>11.1f} {b.texts_per_s:>11.1f} "
              f"{ratio:>6.2f} {p99:>9.2f}")


# --------------------------------------------------------------------------- main
def _int_list(value: str) -> list[int]:
    try:
        out = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: expected comma-separated integers") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected positive integers")
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", nargs="?", type=Path, default=DEFAULT_MODEL,
                    help="model folder for the server started here (default: models/default)")
    ap.add_argument("--url", help="target a running server instead of starting one")
    ap.add_argument("--duration", type=float, default=10.0,
                    help="seconds of load per setting (default 10)")
    ap.add_argument("--clients", type=_int_list, default=[1, 16, 64],
                    help="concurrent clients, comma-separated (default 1,16,64)")
    ap.add_argument("--modes", default="single,batch",
                    help="single (1 text per request) and/or batch (--batch-size texts)")
    ap.add_argument("--batch-size", type=int, default=16, help="texts per batched request")
    ap.add_argument("--no-micro-batch", action="store_true",
                    help="start the server with --no-micro-batch")
    ap.add_argument("--compare-micro-batch", action="store_true",
                    help="run everything against a server with and without micro-batching")
    ap.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for `emotag serve`, repeatable, written with '=': "
                         "--serve-arg=--max-wait-ms=5 --serve-arg=--log-level=warning")
    ap.add_argument("--timeout", type=float, default=60.0, help="per-request timeout, seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the results here")
    a = ap.parse_args(argv)
    a.modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    if not a.modes or set(a.modes) - {"single", "batch"}:
        ap.error("--modes takes single and/or batch")
    if a.batch_size < 1 or a.duration <= 0:
        ap.error("--batch-size and --duration must be positive")
    if a.url and a.compare_micro_batch:
        ap.error("--compare-micro-batch starts its own servers; it cannot use --url")
    if a.url and a.no_micro_batch:
        ap.error("--no-micro-batch is a setting of a server started here; it cannot use --url")
    return a


def run_all(url: str, server: str, a: argparse.Namespace, texts: list[str]) -> list[Result]:
    rows = []
    for mode in a.modes:
        per_request = 1 if mode == "single" else a.batch_size
        for clients in a.clients:
            r = measure(url, server, mode, clients, per_request, texts, a.duration, a.seed,
                        a.timeout)
            print(f"  {server} {mode} x{clients}: {r.texts_per_s:.1f} texts/s, "
                  f"p99 {r.p99_ms:.0f} ms, {r.errors} errors", file=sys.stderr)
            rows.append(r)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    a = parse_args(argv)
    texts = load_goemotions()["test"].texts
    print(f"{len(texts)} GoEmotions test texts; {a.duration:g} s per setting; "
          f"cpu cores: {os.cpu_count()}", file=sys.stderr)
    results: list[Result] = []
    if a.url:
        _wait_healthy(a.url.rstrip("/"), None, None, timeout=30)
        results = run_all(a.url.rstrip("/"), a.url, a, texts)
        print_table(f"server {a.url}", results)
    elif a.compare_micro_batch:
        with serve(a.model_dir, True, a.serve_arg) as url:
            on = run_all(url, "micro-batch", a, texts)
        with serve(a.model_dir, False, a.serve_arg) as url:
            off = run_all(url, "no-micro-batch", a, texts)
        print_table(f"{a.model_dir}, micro-batching on", on)
        print_table(f"{a.model_dir}, micro-batching off", off)
        print_ratio(on, off)
        results = on + off
    else:
        name = "no-micro-batch" if a.no_micro_batch else "micro-batch"
        with serve(a.model_dir, not a.no_micro_batch, a.serve_arg) as url:
            results = run_all(url, name, a, texts)
        print_table(f"{a.model_dir}, {name}", results)
    if a.json:
        a.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    if any(r.errors for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
