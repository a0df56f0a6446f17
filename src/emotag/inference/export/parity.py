"""Which texts an export is checked on, and how its models compare with PyTorch there.

The check data is the run's own: ``data`` (a labelled file, read with the model's label
names), else the dev split of the data the run was trained on (its ``train_config.json``),
else, for a folder without one, the bundled GoEmotions dev split. A model with custom labels
is therefore checked on its own labels, and a split whose labels differ from the model's is an
error, never a silent comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...data.datasets import Split
from ...errors import DataError
from .job import ExportJob, timed

#: Splits of the run's data tried in this order for the checks (a files run may lack dev).
CHECK_SPLITS = ("dev", "test")


def check_split(model_dir: Path, labels: list[str], *, dev: Split | None = None,
                data: Path | None = None, text_column: str = "text",
                label_column: str = "labels") -> tuple[Split, str]:
    """The split the export is checked on and where it comes from (see module docstring).

    ``dev`` (a Split) is used as given; ``data`` is a labelled file; otherwise the run's saved
    data config decides."""
    if dev is None:
        from ...training.evaluation_run import evaluation_config, evaluation_splits

        cfg, origin = evaluation_config(model_dir, data, text_column=text_column,
                                        label_column=label_column,
                                        label_names=labels if data is not None else None)
        splits = evaluation_splits(cfg)
        name = next((s for s in CHECK_SPLITS if s in splits), None)
        if name is None:
            raise DataError(f"no dev or test split in the run's data ({origin}) to check the "
                            "export on; pass --data FILE", path=str(model_dir))
        dev, origin = splits[name], f"{origin}: {name} split"
    else:
        origin = f"given split {dev.name}" + (f" ({dev.source})" if dev.source else "")
    if list(dev.label_names) != list(labels):
        raise DataError(f"check data labels {list(dev.label_names)} differ from the model's "
                        f"{list(labels)}; pass a file labelled with the model's labels (--data)",
                        path=dev.source or None)
    return dev, origin


def macro_f1(split: Split, probs: np.ndarray, thresholds: np.ndarray) -> float:
    from ...evaluation.metrics import evaluate_decisions

    m = evaluate_decisions(split.labels, probs, thresholds, split.label_names, groupings=False)
    return float(m["averages"]["macro"]["f1"])


def dev_comparison(clf: Any, dev: Split | None, thresholds: np.ndarray, job: ExportJob,
                   files: dict[str, str]) -> dict[str, Any] | None:
    """Macro-F1 at the run's thresholds on ``dev`` for PyTorch and each ONNX model in
    ``files`` (report key -> file name), with the number of (text, label) decisions that
    differ from PyTorch's and the wall time."""
    if dev is None:
        return None
    torch_probs, torch_s = timed(clf.predict_proba, dev.texts)
    torch_pred = torch_probs >= thresholds[None, :]
    out: dict[str, Any] = {"n_examples": len(dev), "macro_f1": {}, "decision_flips": {},
                           "seconds": {"torch": round(torch_s, 2)},
                           "fp32_file": files.get("onnx_fp32")}
    out["macro_f1"]["torch"] = macro_f1(dev, torch_probs, thresholds)
    for key, fname in files.items():
        probs, secs = timed(job.classifier(job.output_dir / fname).predict_proba, dev.texts)
        out["macro_f1"][key] = macro_f1(dev, probs, thresholds)
        out["decision_flips"][key] = int(((probs >= thresholds[None, :]) != torch_pred).sum())
        out["seconds"][key] = round(secs, 2)
    return out
