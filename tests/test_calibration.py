"""Per-label Platt calibration: fitted on dev, scores change, decisions do not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emotag.errors import ModelFormatError
from emotag.evaluation.calibration import (
    PlattCalibrator,
    calibrate_run,
    expected_calibration_error,
    reliability_curve,
)


def overconfident(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose true frequency is much lower than they claim."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 1.0, size=(n, 3))
    y = (rng.uniform(size=p.shape) < p**3).astype(np.uint8)
    return p, y


def test_ece_is_zero_when_scores_match_frequencies() -> None:
    y = np.array([[1], [0], [1], [0]])
    assert expected_calibration_error(y, np.full((4, 1), 0.5), n_bins=10) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full((4, 1), 0.9), n_bins=10) == pytest.approx(0.4)


def test_platt_lowers_ece_and_keeps_decisions() -> None:
    p_dev, y_dev = overconfident(seed=0)
    p_test, y_test = overconfident(seed=1)
    cal = PlattCalibrator().fit(p_dev, y_dev)
    assert (cal.a_ > 0).all()
    before = expected_calibration_error(y_test, p_test)
    after = expected_calibration_error(y_test, cal.transform(p_test))
    assert after < before / 2
    t = np.array([0.3, 0.5, 0.7])
    same = (p_test >= t) == (cal.transform(p_test) >= cal.transform_thresholds(t))
    assert same.mean() > 0.999  # float32 rounding only


def test_rare_labels_keep_the_identity_map() -> None:
    p, y = overconfident()
    y[:, 1] = 0
    y[:3, 1] = 1
    cal = PlattCalibrator(min_positives=5).fit(p, y)
    assert cal.a_[1] == 1.0 and cal.b_[1] == 0.0


def test_calibrate_run_writes_json_and_plot(tmp_path: Path) -> None:
    p_dev, y_dev = overconfident(seed=0)
    p_test, y_test = overconfident(seed=1)
    (tmp_path / "predictions").mkdir()
    np.save(tmp_path / "predictions" / "dev_probs.npy", p_dev)
    np.save(tmp_path / "predictions" / "test_probs.npy", p_test)
    ece = calibrate_run(tmp_path, {"dev": y_dev, "test": y_test}, ["a", "b", "c"])
    assert ece["test"]["after"] < ece["test"]["before"]
    assert (tmp_path / "plots" / "reliability.png").stat().st_size > 1000
    cal = PlattCalibrator.load(tmp_path / "calibration.json", ["a", "b", "c"])
    np.testing.assert_allclose(cal.transform(p_test),
                               PlattCalibrator().fit(p_dev, y_dev).transform(p_test), atol=1e-5)
    with pytest.raises(ModelFormatError, match="labels"):
        PlattCalibrator.load(tmp_path / "calibration.json", ["x", "y", "z"])
    mp, freq, n = reliability_curve(y_test, p_test)
    assert n.sum() == p_test.size and len(mp) == len(freq)


def test_calibrate_command_reads_the_run_config_as_evaluate_does(tmp_path: Path) -> None:
    """`emotag calibrate` goes through the shared evaluation config: the run's own files, and
    a training setting a later emotag dropped does not stop it."""
    import json

    from typer.testing import CliRunner

    from emotag.cli.app import app

    rows = [("glad", "a"), ("sad", "b"), ("both", "a,b"), ("odd", "c")] * 5
    data = tmp_path / "dev.csv"
    data.write_text("text,labels\n" + "".join(f"{t},\"{lab}\"\n" for t, lab in rows),
                    encoding="utf-8")
    run = tmp_path / "run"
    (run / "predictions").mkdir(parents=True)
    (run / "train_config.json").write_text(json.dumps({
        "data": {"dataset": "files", "train_file": str(data), "validation_file": str(data),
                 "label_names": ["a", "b", "c"]},
        "train": {"a_setting_no_longer_known": 1}}), encoding="utf-8")
    probs = np.random.default_rng(0).uniform(size=(len(rows), 3)).astype(np.float32)
    np.save(run / "predictions" / "dev_probs.npy", probs)
    result = CliRunner().invoke(app, ["calibrate", str(run)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "dev: ECE" in result.output
    PlattCalibrator.load(run / "calibration.json", ["a", "b", "c"])


def test_predictor_serves_calibrated_scores_with_the_same_decisions(tmp_path: Path) -> None:
    import shutil

    import emotag
    from emotag.inference.predictor import DEFAULT_MODEL_DIR

    model_dir = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    (model_dir / "calibration.json").unlink(missing_ok=True)  # the shipped one: start raw
    texts = ["thank you so much!", "this is awful and I hate it", "ok", "wow, really?"]
    raw = emotag.load(model_dir)
    names = raw.labels
    cal = PlattCalibrator()
    cal.a_, cal.b_ = np.full(len(names), 0.7), np.linspace(-1.0, 0.5, len(names))
    cal.save(model_dir / "calibration.json", names)
    calibrated = emotag.load(model_dir)
    np.testing.assert_allclose(calibrated.predict_proba(texts),
                               cal.transform(raw.predict_proba(texts)), atol=1e-6)
    assert [[x["label"] for x in r] for r in calibrated.predict(texts)] == \
        [[x["label"] for x in r] for r in raw.predict(texts)]
