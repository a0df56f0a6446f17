"""ONNX export of a tiny trained run: parity with PyTorch, batch invariance, metadata,
packaging (every decision file, calibrated scores), custom labels, the CLI."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import emotag
from conftest import WORDS, tiny_overrides
from emotag.cli.app import app
from emotag.config import load_config
from emotag.data.datasets import load_goemotions, load_splits
from emotag.errors import DataError, EmotagError, ModelFormatError
from emotag.inference.export import export_onnx, package_onnx_model
from emotag.models.base import DECISION_FILES
from emotag.models.onnx import META_LABELS, META_THRESHOLDS, OnnxClassifier, read_metadata
from emotag.training.pipeline import train_run

#: int8 weights of a tiny random 32-wide model move probabilities far more than on MiniLM.
INT8_TOLERANCE = 0.05
#: A text scored alone and in any batch: the same scores up to float noise.
BATCH_TOLERANCE = 1e-4
LONG = " ".join(["happy glad angry sad thanks"] * 20)  # 100 words > max_length 32
MIXED = ["happy", LONG, "angry furious mad hate and sad", "thanks", "why how what",
         LONG[:40], "scared", "love adore heart darling and thanks a lot", "ok", "glad"]
CUSTOM = ["urgent", "frustrated", "grateful"]
CUSTOM_WORDS = {"urgent": WORDS["fear"], "frustrated": WORDS["anger"],
                "grateful": WORDS["gratitude"]}
runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path, tiny_bert: Path) -> Path:
    out = tmp_path_factory.mktemp("export-run") / "tiny"
    train_run(load_config(None, tiny_overrides(tiny_data, tiny_bert)), out)
    return out


@pytest.fixture(scope="module")
def exported(run_dir: Path, tiny_data: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("onnx")
    dev = load_goemotions(tiny_data)["dev"]
    # Timing a 32-wide model is noise: keep the fused graph whatever its speed
    # (min_speedup=0), so the optimized graph is always exercised here.
    report = export_onnx(run_dir, out, dev=dev, per_channel=False, num_threads=1,
                         min_speedup=0.0)
    return out, report


@pytest.fixture(scope="module")
def torch_model(run_dir: Path) -> emotag.inference.predictor.Predictor:
    return emotag.load(run_dir)


def test_files_and_report(exported: tuple[Path, dict]) -> None:
    out, report = exported
    for name in ("model.onnx", "model.int8.onnx", "export_report.json", "tokenizer.json"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*"))  # no temp files left behind
    on_disk = json.loads((out / "export_report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert report["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert report["files"]["model.onnx"] > 0 and report["models"]["int8"]["bytes"] > 0
    assert set(report["dev"]["macro_f1"]) == {"torch", "onnx_fp32", "onnx_int8"}
    assert report["dev"]["n_examples"] == 60 and report["check"]["n_texts"] == 60
    opt = report["optimizer"]
    assert opt["used"] and (out / "model.opt.onnx").is_file(), opt
    assert {"Attention", "SkipLayerNormalization"} <= set(opt["fused_ops"])
    assert report["dev"]["fp32_file"] == "model.opt.onnx"
    quant = report["quantization"]
    assert quant["method"] == "static" and quant["source"] == "model.onnx"
    assert quant["quantized_matmuls"] > 0 and len(quant["fp32_matmuls"]) == 1  # the head


def test_int8_is_static_and_quantized(exported: tuple[Path, dict]) -> None:
    """Regression: the int8 graph used dynamic quantization (per-batch activation scales)."""
    import onnx

    ops = {n.op_type for n in onnx.load(str(exported[0] / "model.int8.onnx")).graph.node}
    assert "DynamicQuantizeLinear" not in ops
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert exported[1]["files"]["model.int8.onnx"] < exported[1]["files"]["model.onnx"]


def test_fp32_and_int8_match_pytorch(exported: tuple[Path, dict], torch_model: object,
                                     tiny_data: Path) -> None:
    out, report = exported
    texts = load_goemotions(tiny_data)["test"].texts
    ref = torch_model.predict_proba(texts)
    for name in ("model.onnx", "model.opt.onnx"):
        fp32 = OnnxClassifier(out / name, num_threads=1).predict_proba(texts)
        assert fp32.dtype == np.float32 and fp32.shape == ref.shape
        np.testing.assert_allclose(fp32, ref, atol=1e-4)
    int8 = OnnxClassifier(out / "model.int8.onnx", num_threads=1).predict_proba(texts)
    assert np.abs(int8 - ref).max() < INT8_TOLERANCE
    assert report["models"]["fp32"]["max_abs_diff"] < 1e-4
    assert report["models"]["int8"]["max_abs_diff"] < INT8_TOLERANCE
    f1 = report["dev"]["macro_f1"]
    assert f1["onnx_fp32"] == pytest.approx(f1["torch"], abs=1e-9)


@pytest.mark.parametrize("name", ["model.onnx", "model.opt.onnx", "model.int8.onnx"])
def test_scores_do_not_depend_on_batch_mates(exported: tuple[Path, dict], name: str) -> None:
    """Regression: the dynamic-int8 model gave a text other scores next to other texts.
    Alone (unpadded) vs batches of 2, 3 and 64 (padded to a 32-token neighbour)."""
    out, report = exported
    clf = OnnxClassifier(out / name, num_threads=1)
    alone = clf.predict_proba(MIXED, batch_size=1)
    for batch_size in (2, 3, 64):
        np.testing.assert_allclose(clf.predict_proba(MIXED, batch_size=batch_size), alone,
                                   atol=BATCH_TOLERANCE, rtol=0)
    for text in MIXED:  # next to the longest text, every other one is padded the most
        pair = clf.predict_proba([text, LONG], batch_size=2)[0]
        np.testing.assert_allclose(pair, clf.predict_proba([text])[0], atol=BATCH_TOLERANCE)
    key = {"model.onnx": "fp32", "model.opt.onnx": "fp32_opt", "model.int8.onnx": "int8"}[name]
    check = report["models"][key]["batch_invariance"]
    assert check["max_abs_diff"] <= BATCH_TOLERANCE and check["texts_with_changed_labels"] == 0


def test_metadata_holds_labels_and_thresholds(exported: tuple[Path, dict],
                                              run_dir: Path) -> None:
    out, _ = exported
    saved = json.loads((run_dir / "thresholds.json").read_text())
    for name in ("model.onnx", "model.opt.onnx", "model.int8.onnx"):
        meta = read_metadata(out / name)
        assert meta[META_LABELS] == list(emotag.GOEMOTIONS_LABELS), name
        assert meta[META_THRESHOLDS] == pytest.approx(saved), name


def test_input_order_and_truncation(exported: tuple[Path, dict], torch_model: object) -> None:
    out, _ = exported
    texts = MIXED[:6]
    clf = OnnxClassifier(out / "model.onnx", num_threads=1)
    probs = clf.predict_proba(texts, batch_size=2)  # several batches, each padded differently
    np.testing.assert_allclose(probs, torch_model.predict_proba(texts), atol=1e-4)
    assert clf.predict_proba([]).shape == (0, 28)


def test_packaged_folder_loads(exported: tuple[Path, dict], run_dir: Path,
                               tmp_path: Path) -> None:
    out, _ = exported
    texts = ["happy glad", "angry mad hate", LONG]
    for name in ("model.onnx", "model.int8.onnx"):
        folder = package_onnx_model(run_dir, out / name, tmp_path / name)
        pred = emotag.load(folder)
        assert pred.model.model_type == "onnx"
        assert json.loads((folder / "emotag.json").read_text())["onnx"]["max_length"] == 32
        np.testing.assert_array_equal(pred.thresholds, emotag.load(run_dir).thresholds)
        direct = OnnxClassifier(out / name).predict_proba(texts)
        np.testing.assert_allclose(pred.predict_proba(texts), direct, atol=1e-6)
        assert isinstance(pred.predict("happy glad"), list)
    with pytest.raises(EmotagError, match="exported, not trained"):
        pred.model.fit(None)


def test_package_copies_every_decision_file_and_preprocessing(
        exported: tuple[Path, dict], run_dir: Path, tmp_path: Path) -> None:
    """Regression: --package copied thresholds.json but not calibration.json (a packaged
    model served uncalibrated scores). Every file of DECISION_FILES the run has is copied,
    a stale one in the target is removed, and the run's text preprocessing travels."""
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    for name in sorted(DECISION_FILES - {"thresholds.json"}):
        (run / name).write_text(json.dumps({"written for": name}), encoding="utf-8")
    manifest = json.loads((run / "emotag.json").read_text())
    manifest["preprocessing"] = {"emoji": True}  # a run setting that changes scores
    (run / "emotag.json").write_text(json.dumps(manifest), encoding="utf-8")
    pkg = package_onnx_model(run, exported[0] / "model.onnx", tmp_path / "pkg")
    for name in DECISION_FILES:
        assert (pkg / name).read_bytes() == (run / name).read_bytes(), name
    packaged = json.loads((pkg / "emotag.json").read_text())
    assert packaged["preprocessing"]["emoji"] is True and packaged["model_type"] == "onnx"
    assert "transformer" not in packaged
    (run / "calibration.json").unlink()
    package_onnx_model(run, exported[0] / "model.onnx", pkg)
    assert not (pkg / "calibration.json").exists()


def test_export_refuses_a_tfidf_model(tmp_path: Path) -> None:
    (tmp_path / "emotag.json").write_text(json.dumps(
        {"format_version": 1, "model_type": "tfidf", "label_names": ["a"]}))
    with pytest.raises(ModelFormatError, match="transformer run"):
        export_onnx(tmp_path)


def test_cli_export_checks_on_the_runs_own_dev_split(run_dir: Path, tmp_path: Path) -> None:
    """No --data: the run's train_config.json names its data (here the tiny GoEmotions copy,
    not the bundled one), and the check and the int8 calibration use its dev split."""
    result = runner.invoke(app, [
        "export", str(run_dir), "--onnx", "--no-optimize", "--output",
        str(tmp_path / "o"), "--package", str(tmp_path / "pkg")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = json.loads((tmp_path / "o" / "export_report.json").read_text())
    assert "optimizer" not in report and "int8" in report["models"]
    assert "train_config.json" in report["check_data"] and "dev split" in report["check_data"]
    assert report["dev"]["n_examples"] == 60  # the tiny dev split, not the bundled 5,426
    assert "macro-F1" in result.output and "onnx int8" in result.output
    assert "alone/batch" in result.output
    assert emotag.load(tmp_path / "pkg").model.onnx_file.name == "model.int8.onnx"


# ------------------------------------------------------------------ custom labels
def write_csv(path: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    names = list(CUSTOM_WORDS)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "labels"])
        for i in range(n):
            labels = [names[i % len(names)]] + ([names[(i + 1) % 3]] if rng.random() < 0.2
                                                else [])
            writer.writerow([" ".join(w for lab in labels
                                      for w in rng.choice(CUSTOM_WORDS[lab].split(), 2)),
                             ",".join(labels)])
    return path


@pytest.fixture(scope="module")
def custom_run(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path
               ) -> tuple[Path, dict[str, Path]]:
    """A tiny transformer trained on three custom labels, calibrated."""
    from emotag.evaluation.calibration import calibrate_run

    folder = tmp_path_factory.mktemp("custom")
    files = {s: write_csv(folder / f"{s}.csv", n, seed)
             for seed, (s, n) in enumerate({"train": 90, "dev": 45, "test": 30}.items())}
    sets = {"data.dataset": "files", "data.train_file": files["train"],
            "data.validation_file": files["dev"], "data.test_file": files["test"],
            "data.label_names": f"[{', '.join(CUSTOM)}]"}
    run = folder / "run"
    cfg = load_config(None, tiny_overrides(folder, tiny_bert, **sets))
    train_run(cfg, run)
    calibrate_run(run, {"dev": load_splits(cfg.data)["dev"].labels}, CUSTOM)
    assert (run / "calibration.json").is_file()
    return run, files


def test_custom_labels_export_with_data_and_package(custom_run: tuple[Path, dict],
                                                     tmp_path: Path) -> None:
    """Regression: export checked on the bundled GoEmotions dev split only, so a model with
    custom labels could not be exported from the CLI, and --package left calibration.json
    behind. The packaged fp32 model serves the run's calibrated scores and decisions."""
    run, files = custom_run
    pkg = tmp_path / "pkg"
    result = runner.invoke(app, ["export", str(run), "--onnx", "--no-int8", "--no-optimize",
                                 "--data", str(files["test"]), "--output", str(tmp_path / "o"),
                                 "--package", str(pkg)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = json.loads((tmp_path / "o" / "export_report.json").read_text())
    assert report["check_data"].startswith(f"--data {files['test']}")
    assert report["dev"]["n_examples"] == 30
    for name in ("thresholds.json", "calibration.json"):
        assert (pkg / name).read_bytes() == (run / name).read_bytes(), name
    packaged, trained = emotag.load(pkg), emotag.load(run)
    assert packaged.labels == CUSTOM and packaged.calibrator is not None
    texts = ["scared afraid", "thanks grateful angry", "mad hate"]
    np.testing.assert_allclose(packaged.predict_proba(texts), trained.predict_proba(texts),
                               atol=1e-4)
    np.testing.assert_allclose(packaged.thresholds, trained.thresholds, atol=1e-9)
    for got, want in zip(packaged.predict(texts), trained.predict(texts), strict=True):
        assert [x["label"] for x in got] == [x["label"] for x in want]
        assert [x["score"] for x in got] == pytest.approx([x["score"] for x in want], abs=1e-4)


def test_custom_labels_default_check_data_and_int8(custom_run: tuple[Path, dict],
                                                   tmp_path: Path) -> None:
    """Without --data the run's own dev file is used (custom labels, not GoEmotions'), and
    the int8 model calibrated on it is batch invariant."""
    run, _ = custom_run
    report = export_onnx(run, tmp_path / "o", optimize=False, num_threads=1)
    assert report["check_data"] == f"{run / 'train_config.json'}: dev split"
    assert report["dev"]["n_examples"] == 45  # the run's dev file
    assert report["models"]["int8"]["batch_invariance"]["max_abs_diff"] <= BATCH_TOLERANCE


def test_custom_labels_data_with_other_labels_is_an_error(custom_run: tuple[Path, dict],
                                                          tiny_data: Path,
                                                          tmp_path: Path) -> None:
    run, _ = custom_run
    bad = tmp_path / "bad.csv"
    bad.write_text("text,labels\nhappy glad,joy\n", encoding="utf-8")
    result = runner.invoke(app, ["export", str(run), "--onnx", "--no-int8", "--no-optimize",
                                 "--data", str(bad), "--output", str(tmp_path / "o")])
    assert result.exit_code == 1 and isinstance(result.exception, DataError)
    assert "bad.csv, line 2" in str(result.exception) and "'joy'" in str(result.exception)


def test_the_optimizer_leaves_nothing_in_the_working_directory(
        exported: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime's shape inference saves a failed graph into the working directory; an
    export once committed those files (70 MB) into this repository."""
    from onnxruntime.transformers import optimizer

    from emotag.inference.export.optimize import optimize_graph

    real = optimizer.optimize_model

    def leaky(*args: object, **kwargs: object) -> object:
        Path("sym_shape_infer_temp.onnx").write_bytes(b"half-inferred graph")
        return real(*args, **kwargs)

    monkeypatch.setattr(optimizer, "optimize_model", leaky)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    src = Path(exported[0]) / "model.onnx"
    info = optimize_graph(Path(src), tmp_path / "model.opt.onnx", num_heads=2, hidden_size=32)
    assert list(cwd.iterdir()) == []
    assert (tmp_path / "model.opt.onnx").is_file() and "fused_ops" in info
