"""A standalone model folder around an exported ONNX file, served without torch.

Everything of the run that changes scores or decisions travels with it: every decision file
the run has (:data:`~emotag.models.base.DECISION_FILES`: thresholds, calibration, group
thresholds, ...) and its text preprocessing (saved in ``emotag.json``), so the packaged model
answers as the run does.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import ModelFormatError
from ...models.onnx import OnnxClassifier
from ...utils.files import atomic_write_bytes

#: Copied beside the decision files: the run's metrics (a report, not part of the model).
REPORT_FILES = ("metrics.json",)


def package_onnx_model(run_dir: Path, onnx_file: Path, output_dir: Path) -> Path:
    """Write ``output_dir``, a model folder that ``emotag.load`` serves with ONNX Runtime.

    It holds ``emotag.json`` (model_type ``onnx``, the run's labels and preprocessing),
    ``onnx/`` (the file and the tokenizer found next to ``onnx_file``), and copies of the
    run's decision files and ``metrics.json``. Returns ``output_dir``.
    """
    from ...data.preprocess import Preprocessing
    from ...models import save_model
    from ...models.base import DECISION_FILES, read_manifest

    run_dir, onnx_file, output_dir = Path(run_dir), Path(onnx_file), Path(output_dir)
    manifest = read_manifest(run_dir)
    if output_dir.resolve() == run_dir.resolve():
        raise ModelFormatError(f"{output_dir}: package into a new folder, not the run itself "
                               "(its emotag.json describes the PyTorch model)")
    info = manifest.get("transformer", {})
    clf = OnnxClassifier(onnx_file, onnx_file.parent, label_names=manifest["label_names"],
                         max_length=info.get("max_length"))
    clf.preprocessing = Preprocessing.from_dict(manifest.get("preprocessing"))
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in sorted(DECISION_FILES) + list(REPORT_FILES):
        if (run_dir / name).is_file():
            atomic_write_bytes(output_dir / name, (run_dir / name).read_bytes())
        elif name in DECISION_FILES:
            (output_dir / name).unlink(missing_ok=True)  # a stale one would change decisions
    save_model(clf, output_dir)  # manifest last: the folder is complete once it exists
    return output_dir
