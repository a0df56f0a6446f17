"""Load test of `emotag serve`: throughput and latency under 1, 16 and 64 concurrent clients.

Each client is a closed loop (send a request, wait for the answer, send the next) for a fixed
``--duration``, so the numbers say what a given number of busy callers gets, and the p99 shows
the queueing that throughput alone hides. Two request shapes are measured: one text per request
(an interactive caller) and ``--batch-size`` texts per request (a bulk caller). Texts are
sampled from the GoEmotions test split so their lengths are realistic.

The server is started here as a subprocess on a free 127.0.0.1 port (the model folder,
``--workers`` and ``--no-micro-batch`` passed through), or a running one is targeted with
``--url``. The clients use aiohttp: its per-request CPU cost is a fraction of httpx's, which
matters when client and server share 2 cores.
``--compare-micro-batch`` runs the same load against a server with and without micro-batching
and prints the ratio: micro-batching should win when many clients send single texts.

The load generator shares the machine with a local server, so on few cores the absolute numbers
are a lower bound; the comparison between settings on one machine is what to read.

    python benchmarks/bench_service_load.py --duration 10
    python benchmarks/bench_service_load.py --duration 60 --workers 2
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
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from emotag.data.datasets import load_goemotions
from emotag.resources import default_model_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from local_server import local_server, wait_healthy  # noqa: E402  (a test helper)

DEFAULT_MODEL = default_model_dir()
JSON_HEADERS = {"content-type": "application/json"}


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


# --------------------------------------------------------------------------- server
def serve(model_dir: Path, micro_batch: bool, extra: Sequence[str]) -> Any:
    """``emotag serve`` on a free local port while the block runs (yields its URL)."""
    flag = "--micro-batch" if micro_batch else "--no-micro-batch"
    return local_server(model_dir, [*extra, flag])


# --------------------------------------------------------------------------- load
async def _client(http: aiohttp.ClientSession, url: str, texts: list[str], per_request: int,
                  deadline: float, rng: random.Random, latencies: list[float],
                  errors: list[str]) -> None:
    """One closed-loop caller: request after request until the deadline."""
    while time.perf_counter() < deadline:
        body = json.dumps({"texts": rng.sample(texts, per_request)}).encode()
        t0 = time.perf_counter()
        try:
            async with http.post(url, data=body, headers=JSON_HEADERS) as r:
                payload = await r.read()
                status = r.status
        except (TimeoutError, aiohttp.ClientError) as e:  # errors, not crashes
            errors.append(f"{type(e).__name__}: {e}")
            await asyncio.sleep(0.05)  # a dead server must not turn this into a busy loop
            continue
        dt = time.perf_counter() - t0
        if 200 <= status < 300:
            latencies.append(dt)
        else:
            errors.append(f"HTTP {status}: {payload[:200]!r}")


async def _run_load(url: str, texts: list[str], clients: int, per_request: int,
                    duration: float, seed: int, timeout: float) -> tuple[float, list[float],
                                                                         list[str]]:
    # aiohttp, not httpx: httpx's connection pool costs grow with the number of open
    # connections, and on 2 shared cores the load generator's own CPU time shows up in the
    # server's latencies (httpx: 115 texts/s at 64 clients, see docs/results.md).
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    latencies: list[float] = []
    errors: list[str] = []
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        endpoint = f"{url}/v1/predict"
        warm = json.dumps({"texts": texts[:per_request]}).encode()

        async def warm_up() -> None:  # connections opened, first-call costs paid; not counted
            async with http.post(endpoint, data=warm, headers=JSON_HEADERS) as r:
                await r.read()

        await asyncio.gather(*(warm_up() for _ in range(clients)), return_exceptions=True)
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
    ap.add_argument("--workers", type=int, default=1,
                    help="server processes (emotag serve --workers; default 1)")
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
    if a.batch_size < 1 or a.duration <= 0 or a.workers < 1:
        ap.error("--batch-size, --duration and --workers must be positive")
    a.serve_arg = [f"--workers={a.workers}", *a.serve_arg]
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
        wait_healthy(a.url.rstrip("/"), timeout=30)
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
