"""Probabilities that mean what they say: per-label Platt scaling fitted on dev.

Why: a multi-label model trained with BCE on imbalanced labels is often over- or
under-confident per label, and users read a score of 0.8 as "80% likely". A per-label Platt
map ``sigmoid(a * logit(p) + b)`` with ``a > 0`` is fitted on dev and reported with the
expected calibration error (ECE) before and after, on dev and test.

The map is strictly increasing, so a label's decision ``p >= t`` equals ``f(p) >= f(t)``:
calibration changes scores, never decisions. :class:`~emotag.inference.predictor.Predictor`
applies a
run's ``calibration.json`` to its scores and to its thresholds alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ..errors import ModelFormatError
from ..inference.decision_files import CALIBRATION_FILE, PlattMap, logit, read_platt
from ..utils.files import atomic_write_json


def expected_calibration_error(y: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> float:
    """ECE over every (text, label) score: the bin-size-weighted gap between the mean score
    and the observed frequency, in ``n_bins`` equal-width bins."""
    p = np.asarray(probs, dtype=np.float64).ravel()
    t = np.asarray(y, dtype=np.float64).ravel()
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            total += m.sum() * abs(p[m].mean() - t[m].mean())
    return float(total / len(p))


def reliability_curve(y: np.ndarray, probs: np.ndarray, n_bins: int = 15
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean score, observed frequency, count) per non-empty bin, for a reliability plot."""
    p = np.asarray(probs, dtype=np.float64).ravel()
    t = np.asarray(y, dtype=np.float64).ravel()
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    rows = [(p[bins == b].mean(), t[bins == b].mean(), (bins == b).sum())
            for b in range(n_bins) if (bins == b).any()]
    arr = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return arr[:, 0], arr[:, 1], arr[:, 2]


class PlattCalibrator(BaseEstimator, PlattMap):
    """Per-label ``sigmoid(a * logit(p) + b)`` fitted on dev (scikit-learn conventions); the
    fitted map is applied and read by :class:`~emotag.inference.decision_files.PlattMap`.

    Parameters
    ----------
    C : float
        Inverse L2 strength of each label's logistic fit (large = nearly unregularised).
    min_positives : int
        Labels with fewer dev positives keep the identity map (a=1, b=0): two parameters
        fitted on a handful of examples would be noise.
    """

    def __init__(self, C: float = 100.0, min_positives: int = 5) -> None:
        self.C = C
        self.min_positives = min_positives

    def fit(self, probs: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        probs, y = np.asarray(probs), np.asarray(y).astype(int)
        n_labels = probs.shape[1]
        self.a_ = np.ones(n_labels)
        self.b_ = np.zeros(n_labels)
        for j in range(n_labels):
            if y[:, j].sum() < self.min_positives or y[:, j].sum() == len(y):
                continue
            lr = LogisticRegression(C=self.C, max_iter=1000)
            lr.fit(logit(probs[:, j])[:, None], y[:, j])
            a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
            if a > 0:  # keep the map increasing, so decisions never change
                self.a_[j], self.b_[j] = a, b
        return self

    def transform(self, probs: np.ndarray) -> np.ndarray:
        check_is_fitted(self, ["a_", "b_"])
        return super().transform(probs)

    # ------------------------------------------------------------------ persistence (JSON)
    def save(self, path: Path, label_names: Sequence[str], extra: dict[str, Any] | None = None
             ) -> None:
        check_is_fitted(self, ["a_", "b_"])
        atomic_write_json(Path(path), {
            "method": "platt", "label_names": list(label_names),
            "a": [round(float(v), 6) for v in self.a_], "b": [round(float(v), 6) for v in self.b_],
            "C": self.C, "min_positives": self.min_positives, **(extra or {})})

    @classmethod
    def load(cls, path: Path, label_names: Sequence[str]) -> PlattCalibrator:
        spec = read_platt(path, label_names)
        cal = cls(C=spec.get("C", 100.0), min_positives=spec.get("min_positives", 5))
        cal.a_, cal.b_ = spec["a"], spec["b"]
        return cal


def calibrate_run(run_dir: Path, y: dict[str, np.ndarray], label_names: Sequence[str]
                  ) -> dict[str, Any]:
    """Fit on the run's dev probabilities, write ``calibration.json`` and a reliability plot,
    and return ECE before/after on every split that has predictions (test: scored only)."""
    run_dir = Path(run_dir)
    probs = {s: np.load(run_dir / "predictions" / f"{s}_probs.npy", allow_pickle=False)
             for s in y if (run_dir / "predictions" / f"{s}_probs.npy").is_file()}
    if "dev" not in probs:
        raise ModelFormatError(f"{run_dir}/predictions/dev_probs.npy missing: calibration is "
                               "fitted on dev")
    cal = PlattCalibrator().fit(probs["dev"], y["dev"])
    ece = {s: {"before": expected_calibration_error(y[s], p),
               "after": expected_calibration_error(y[s], cal.transform(p))}
           for s, p in probs.items()}
    cal.save(run_dir / CALIBRATION_FILE, label_names, {"ece": ece, "fitted_on": "dev"})
    _plot_reliability(run_dir / "plots" / "reliability.png", y, probs, cal)
    return ece


def _plot_reliability(path: Path, y: dict[str, np.ndarray], probs: dict[str, np.ndarray],
                      cal: PlattCalibrator) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..utils.files import atomic_write_bytes

    fig, axes = plt.subplots(1, len(probs), figsize=(5 * len(probs), 4.6), squeeze=False)
    for ax, (split, p) in zip(axes[0], probs.items(), strict=True):
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect")
        for name, q in (("raw", p), ("Platt (fitted on dev)", cal.transform(p))):
            mp, freq, _ = reliability_curve(y[split], q)
            ece = expected_calibration_error(y[split], q)
            ax.plot(mp, freq, marker="o", ms=3, label=f"{name}: ECE {ece:.4f}")
        ax.set(title=f"{split}: reliability over all labels", xlabel="mean predicted score",
               ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1))
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())
