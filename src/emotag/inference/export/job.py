"""What the stages of one export share: where files go, what they carry, and the PyTorch
probabilities on the check texts that every ONNX model is compared with."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...data.preprocess import Preprocessing
from ...models.onnx import OnnxClassifier
from .trace import temp_path, write_with_metadata

#: Texts scored together when a model's batch invariance is checked (the default batch).
INVARIANCE_BATCH = 64


def timed(fn: Any, *args: Any, repeats: int = 1) -> tuple[Any, float]:
    """Result and best-of-``repeats`` wall time (the machine may be busy; the minimum is the
    least disturbed run)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return out, best


def abs_diff(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Largest and mean absolute difference of two score matrices."""
    d = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    return {"max_abs_diff": float(d.max()) if d.size else 0.0,
            "mean_abs_diff": float(d.mean()) if d.size else 0.0}


def batch_invariance(clf: Any, texts: list[str], thresholds: np.ndarray | None = None,
                     batch_size: int = INVARIANCE_BATCH) -> dict[str, Any]:
    """Each text scored alone vs in padded batches of ``batch_size``: the largest score
    difference and, with ``thresholds``, how many texts change their decided labels. A model
    that passes gives a text the same answer in the CLI, in a file and in a service request."""
    alone = clf.predict_proba(texts, batch_size=1)
    batched = clf.predict_proba(texts, batch_size=batch_size)
    out: dict[str, Any] = {"batch_size": batch_size, "n_texts": len(texts),
                           "max_abs_diff": abs_diff(alone, batched)["max_abs_diff"]}
    if thresholds is not None:
        t = np.asarray(thresholds)[None, :]
        out["texts_with_changed_labels"] = int(((alone >= t) != (batched >= t)).any(1).sum())
    return out


@dataclass
class ExportJob:
    """One export's output folder, metadata and check texts (see module docstring)."""

    output_dir: Path
    labels: list[str]
    max_length: int
    num_threads: int | None
    metadata: dict[str, Any]
    check_texts: list[str]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    torch_check: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    temps: list[Path] = field(default_factory=list)

    def temp(self, name: str) -> Path:
        path = temp_path(self.output_dir, name)
        self.temps.append(path)
        return path

    def publish(self, src: Path, name: str, precision: str) -> Path:
        """``src`` with emotag's metadata, renamed to ``output_dir/name``."""
        write_with_metadata(src, self.output_dir / name,
                            self.metadata | {"emotag.precision": precision})
        return self.output_dir / name

    def classifier(self, path: Path) -> OnnxClassifier:
        """``path`` served as the packaged model will be (the run's text preprocessing)."""
        clf = OnnxClassifier(path, self.output_dir, self.labels, self.max_length,
                             self.num_threads)
        clf.preprocessing = self.preprocessing
        return clf

    def check(self, path: Path, repeats: int = 1) -> dict[str, Any]:
        """Probability differences from PyTorch on the check texts, and the time taken."""
        probs, secs = timed(self.classifier(path).predict_proba, self.check_texts,
                            repeats=repeats)
        return {**abs_diff(probs, self.torch_check), "check_s": round(secs, 3)}

    def cleanup(self) -> None:
        for t in self.temps:
            t.unlink(missing_ok=True)
