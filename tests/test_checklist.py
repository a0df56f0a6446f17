"""The behavioural (CheckList-style) suite: its cases file is well-formed and covers every
capability, and the runner scores must / must-not rules per capability."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from emotag.errors import DataError
from emotag.evaluation.checklist import Case, read_cases, run_checklist
from emotag.labels import taxonomy_groups

CASES = Path(__file__).parent / "checklist" / "cases.jsonl"
CAPABILITIES = {"plain statements", "negation", "emoji only", "emoji heavy",
                "social media style", "support tickets", "headlines", "mixed emotions",
                "neutral instructions"}


def test_cases_file_covers_every_capability_with_valid_groups() -> None:
    cases = read_cases(CASES)
    counts = Counter(c.capability for c in cases)
    assert set(counts) == CAPABILITIES and min(counts.values()) >= 6
    groups = set(taxonomy_groups("ekman"))
    for case in cases:
        assert case.taxonomy == "ekman" and case.text.strip()
        assert set(case.must) | set(case.must_not) <= groups, case
        assert case.must or case.must_not, case
    plain = {g for c in cases if c.capability == "plain statements" for g in c.must}
    assert plain == groups - {"neutral"}               # every emotion stated plainly
    assert len({c.text for c in cases}) == len(cases)


class FixedPredictor:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers, self.calls = answers, []

    def predict(self, texts: Sequence[str], taxonomy: str = "goemotions") -> list:
        self.calls.append((list(texts), taxonomy))
        return [[{"label": lab, "score": 0.9} for lab in self.answers[t]] for t in texts]


def test_runner_applies_must_and_must_not_per_capability() -> None:
    cases = [Case("a", "x", ("joy",), ("anger",)), Case("a", "y", ("joy",), ()),
             Case("b", "z", (), ("fear",)), Case("b", "w", ("sadness", "fear"), ())]
    pred = FixedPredictor({"x": ["joy", "anger"], "y": ["joy"], "z": [], "w": ["fear"]})
    out = run_checklist(pred, cases)
    assert pred.calls == [(["x", "y", "z", "w"], "ekman")]          # one scoring call
    assert out["capabilities"] == {"a": {"passed": 1, "cases": 2, "pass_rate": 0.5},
                                   "b": {"passed": 1, "cases": 2, "pass_rate": 0.5}}
    assert out["pass_rate"] == 0.5
    assert [f["text"] for f in out["failures"]] == ["x", "w"]


def test_malformed_case_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"capability": "a", "text": "t", "must": [], "must_not": []}\n'
                    '{"capability": "a", "text": "t", "must": ["joy"], "must_not": ["joy"]}\n',
                    encoding="utf-8")
    with pytest.raises(DataError, match="line 2.*both must and must not"):
        read_cases(path)
