"""The shipped model's card names the teacher it was distilled from (it used to say "ens3"
whatever the teacher was)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("model_card", ROOT / "scripts/model_card.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_teacher_summary_reads_the_teacher_folder(tmp_path):
    card = load_script()
    best = card.teacher_summary(ROOT / "results/best")
    assert best == ("an ensemble (mpnet (0.4) + tfidf (0.2) + mpnet-seed2 (0.3) + knn-minilm "
                    "(0.1); weights chosen on dev)")
    assert "ens3" not in best
    assert "minilm (0.4) + mpnet-top6 (0.4) + tfidf (0.2)" in card.teacher_summary(
        ROOT / "results/ens3")
    assert card.teacher_summary(tmp_path) == f"the model in `{tmp_path}`"
