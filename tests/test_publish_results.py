"""scripts/publish_results.py: what a committed results folder keeps when a run is published."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "publish_results.py"


def _run(folder: Path, spec: str) -> Path:
    (folder / "predictions").mkdir(parents=True)
    for name in ("thresholds.json", "ensemble.json"):
        (folder / name).write_text(spec if name == "ensemble.json" else "{}")
    for split in ("dev", "test"):
        (folder / "predictions" / f"{split}_probs.npy").write_bytes(b"x")
    return folder


def _publish(run: Path, dest: Path) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), str(run), str(dest)],
                          capture_output=True, text=True, check=True)
    return done.stdout


def test_teacher_scores_stay_only_while_the_ensemble_is_the_same(tmp_path: Path) -> None:
    dest = _run(tmp_path / "results", '{"weights": [0.5, 0.5]}')
    for name in ("train_probs.npy", "train_probs.json"):
        (dest / "predictions" / name).write_text("teacher scores")
    _publish(_run(tmp_path / "same", '{"weights": [0.5, 0.5]}'), dest)
    assert (dest / "predictions" / "train_probs.npy").read_text() == "teacher scores"
    assert (dest / "predictions" / "train_probs.json").is_file()
    printed = _publish(_run(tmp_path / "other", '{"weights": [0.4, 0.6]}'), dest)
    assert "dropped" in printed and "ensemble changed" in printed
    assert not (dest / "predictions" / "train_probs.npy").exists()
    assert (dest / "predictions" / "test_probs.npy").is_file()
