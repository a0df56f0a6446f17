"""A behavioural test suite in the spirit of CheckList (Ribeiro et al. 2020, "Beyond Accuracy").

Each case is one short text with the groups (or labels) that must fire and those that must not,
tagged with the capability it probes (plain statements of each emotion, negation, emoji-only
text, social-media style, support tickets, ...). A case passes when every ``must`` label is
predicted and no ``must_not`` label is. The suite reports the pass rate per capability: which
kinds of text a model handles, which a single test-set number hides.

Cases are JSON lines: ``{"capability", "text", "must": [...], "must_not": [...]}``, optionally
``"taxonomy"`` (default ``ekman``). emotag's own cases are in ``tests/checklist/cases.jsonl``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError


@dataclass(frozen=True)
class Case:
    capability: str
    text: str
    must: tuple[str, ...]
    must_not: tuple[str, ...]
    taxonomy: str = "ekman"


def read_cases(path: Path) -> list[Case]:
    """The cases of a JSON-lines file; a malformed line is a DataError naming it."""
    cases = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                case = Case(str(obj["capability"]), str(obj["text"]), tuple(obj["must"]),
                            tuple(obj["must_not"]), str(obj.get("taxonomy", "ekman")))
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise DataError(f"not a checklist case ({e!r})", path=str(path),
                                line=line_no) from None
            if set(case.must) & set(case.must_not):
                raise DataError(f"{sorted(set(case.must) & set(case.must_not))} both must and "
                                "must not fire", path=str(path), line=line_no)
            cases.append(case)
    return cases


def run_checklist(predictor: Any, cases: list[Case]) -> dict[str, Any]:
    """Pass rates per capability and overall, and the failing cases with what was predicted.
    Each taxonomy's texts are scored in one call."""
    predicted: dict[int, set[str]] = {}
    for taxonomy in sorted({c.taxonomy for c in cases}):
        idx = [i for i, c in enumerate(cases) if c.taxonomy == taxonomy]
        results = predictor.predict([cases[i].text for i in idx], taxonomy=taxonomy)
        predicted.update({i: {x["label"] for x in r} for i, r in zip(idx, results, strict=True)})
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    failures = []
    for i, case in enumerate(cases):
        ok = set(case.must) <= predicted[i] and not set(case.must_not) & predicted[i]
        counts[case.capability][0] += ok
        counts[case.capability][1] += 1
        if not ok:
            failures.append({"capability": case.capability, "text": case.text,
                             "must": list(case.must), "must_not": list(case.must_not),
                             "predicted": sorted(predicted[i])})
    passed = sum(p for p, _ in counts.values())
    return {"capabilities": {cap: {"passed": p, "cases": n, "pass_rate": p / n}
                             for cap, (p, n) in counts.items()},
            "passed": passed, "cases": len(cases), "pass_rate": passed / max(len(cases), 1),
            "failures": failures}
