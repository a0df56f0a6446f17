"""Fuzz ``POST /v1/predict`` with many generated requests and count the 5xx answers.

The CI tests send a few hundred requests (``EMOTAG_FUZZ_EXAMPLES``); this sends thousands,
never stops early, and prints how many requests were sent and how many got a 5xx (which must
be 0), with the status mix and the first failing bodies. Same generators as the tests
(``tests/service_fuzz.py``); the app runs in-process through FastAPI's TestClient, with small
limits so that limits are crossed often, on the shipped model with one thread.

    python benchmarks/fuzz_service.py --examples 1000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fastapi.testclient import TestClient  # noqa: E402

from emotag.inference.predictor import DEFAULT_MODEL_DIR, Predictor  # noqa: E402
from emotag.serve import ServeSettings, create_app  # noqa: E402
from service_fuzz import arbitrary_requests, fuzz, shaped_requests  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", nargs="?", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--examples", type=int, default=1000,
                        help="Requests in all, split evenly over the two generators.")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    predictor = Predictor.load(args.model_dir, num_threads=args.threads)
    settings = ServeSettings(max_texts=8, max_chars=200, max_body_bytes=4000, max_wait_ms=0,
                             explain_max_words=8)
    total_requests = total_5xx = 0
    with TestClient(create_app(predictor, settings), raise_server_exceptions=False) as client:
        for name, requests in (("arbitrary JSON", arbitrary_requests),
                               ("schema-shaped", shaped_requests)):
            start = time.perf_counter()
            report = fuzz(client, requests, max(1, args.examples // 2), shrink=False)
            print(f"{name}: {report.summary()} in {time.perf_counter() - start:.1f} s")
            for failure in report.failures[:5]:
                print(f"  {failure}")
            total_requests += report.requests
            total_5xx += report.server_errors
    print(f"total: {total_requests} requests, {total_5xx} with status 5xx")
    return 1 if total_5xx else 0


if __name__ == "__main__":
    sys.exit(main())
