"""Property-based fuzzing of ``POST /v1/predict``: no request may make the service answer 5xx.

Shared by ``tests/test_serve.py`` (a few hundred examples in CI) and
``benchmarks/fuzz_service.py`` (thousands, with a count of requests and 5xx responses).

Bodies come from three generators, so both the JSON parser and the validation of every field
are exercised: raw bytes (not JSON, invalid UTF-8), arbitrary JSON values (any shape, NaN,
Infinity, huge integers, unpaired surrogates, deep nesting), and schema-shaped objects whose
fields are each either valid or junk, so that requests also get past validation and reach
the model, the taxonomies, top-k and explanations.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

FIELDS = ("texts", "threshold", "top_k", "taxonomy", "explain", "all_scores")
CONTENT_TYPES = ("application/json", "application/json; charset=utf-8", "text/plain", None)
DEFAULT_EXAMPLES = 200


def examples_from_env(default: int = DEFAULT_EXAMPLES) -> int:
    """``EMOTAG_FUZZ_EXAMPLES`` (how many requests each fuzz test sends), or ``default``."""
    value = os.environ.get("EMOTAG_FUZZ_EXAMPLES", "")
    return int(value) if value.strip() else default


# ------------------------------------------------------------------ strategies
#: Any code point, unpaired surrogates included (hypothesis leaves them out by default).
any_char = st.characters(exclude_categories=())
junk_text = st.text(any_char, max_size=40)
words = st.sampled_from(["thank you", "so happy", "why??", "I hate this", "ok", "wow!",
                         "don't", "\u2764\ufe0f", "sad :(", " ", "", "\x00", "\u200b"])
sentences = st.lists(words, max_size=30).map(" ".join)
long_texts = st.text(any_char, min_size=190, max_size=260)  # around the fuzz app's limit
texty = st.one_of(junk_text, words, sentences, junk_text, words, sentences, long_texts)
scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                    st.integers(min_value=-(10**40), max_value=10**40),
                    st.floats(allow_nan=True, allow_infinity=True), junk_text)
json_values = st.recursive(
    scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), junk_text), inner, max_size=6)),
    max_leaves=25)


def _or_junk(valid: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(valid, valid, json_values)  # valid twice as often as junk


VALID_FIELDS = {
    "threshold": st.one_of(st.none(), st.floats(0.0, 1.0)),
    "top_k": st.one_of(st.none(), st.integers(1, 40), st.integers(min_value=1)),
    "taxonomy": st.sampled_from(["goemotions", "ekman", "sentiment"]),
    "explain": st.booleans(),
    "all_scores": st.booleans(),
}
#: Bodies the schema accepts when their texts are within the limits: they reach the model.
valid_bodies = st.fixed_dictionaries({"texts": st.lists(texty, min_size=1, max_size=8)},
                                     optional=VALID_FIELDS)
#: Right keys, each value valid or junk, sometimes an unknown key.
junky_bodies = st.fixed_dictionaries(
    {"texts": _or_junk(st.lists(texty, min_size=0, max_size=10))},
    optional={**{k: _or_junk(st.one_of(v, st.floats(), st.integers()))
                 for k, v in VALID_FIELDS.items()}, "extra": json_values})
shaped_bodies = st.one_of(valid_bodies, valid_bodies, junky_bodies)


def encode(value: Any, ensure_ascii: bool) -> bytes:
    """JSON as a lax client might send it: NaN/Infinity literals, raw surrogates as bytes."""
    return json.dumps(value, allow_nan=True, ensure_ascii=ensure_ascii).encode(
        "utf-8", "surrogatepass")


@st.composite
def json_requests(draw: st.DrawFn, values: st.SearchStrategy) -> tuple[bytes, str | None]:
    body = encode(draw(values), draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:  # now and then cut the JSON short
        body = body[:draw(st.integers(0, len(body)))]
    return body, draw(st.one_of(st.just("application/json"), st.sampled_from(CONTENT_TYPES)))


arbitrary_requests = st.one_of(
    st.tuples(st.binary(max_size=300), st.sampled_from(CONTENT_TYPES)),
    json_requests(json_values))
shaped_requests = json_requests(shaped_bodies)


# ------------------------------------------------------------------ runner
@dataclass
class FuzzReport:
    """What a fuzz run sent and got back."""

    requests: int = 0
    server_errors: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (f"{self.requests} requests, {self.server_errors} with status 5xx "
                f"(statuses {codes})")


def check_response(body: bytes, status: int, payload: Any) -> None:
    """The contract for any answer: 200 has one result per text, 4xx a string detail."""
    assert status < 500, f"status {status} for body {body[:200]!r}: {payload}"
    if status == 200:
        texts = json.loads(body)["texts"]
        assert len(payload["results"]) == len(texts)
    else:
        assert 400 <= status < 500 and isinstance(payload.get("detail"), str), payload


def fuzz(client: Any, requests: st.SearchStrategy, examples: int, *,
         shrink: bool = True) -> FuzzReport:
    """Send ``examples`` generated requests to ``POST /v1/predict`` through ``client``.

    ``shrink=True`` (tests) stops at the first broken answer and lets hypothesis reduce it to
    a minimal body; ``shrink=False`` (the benchmark) sends them all and counts the 5xx.
    """
    report = FuzzReport()
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])

    @settings(max_examples=examples, deadline=None, database=None, phases=phases,
              suppress_health_check=list(HealthCheck))
    @given(request=requests)
    def one(request: tuple[bytes, str | None]) -> None:
        body, content_type = request
        headers = {"content-type": content_type} if content_type else {}
        r = client.post("/v1/predict", content=body, headers=headers)
        report.requests += 1
        report.statuses[r.status_code] += 1
        try:
            payload = r.json()
        except ValueError:
            payload = {"unparsed": r.text[:200]}
        if r.status_code >= 500:
            report.server_errors += 1
            report.failures.append(f"{r.status_code} {body[:300]!r} -> {r.text[:300]}")
        if shrink:
            check_response(body, r.status_code, payload)

    one()
    return report
