"""ONNX export of a tiny trained run: parity with PyTorch, metadata, packaging, the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import emotag
from conftest import tiny_overrides
from emotag import export as export_module
from emotag.cli.app import app
from emotag.config import load_config
from emotag.data.datasets import load_goemotions
from emotag.errors import EmotagError, ModelFormatError
from emotag.inference.export import export_onnx, package_onnx_model
from emotag.models.onnx import META_LABELS, META_THRESHOLDS, OnnxClassifier, read_metadata
from emotag.training.pipeline import train_run

#: int8 weights of a tiny random 32-wide model move probabilities far more than on MiniLM.
INT8_TOLERANCE = 0.05
LONG = " ".join(["happy glad angry sad thanks"] * 20)  # 100 words > max_length 32


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
    # Timing a 32-wide model is noise: keep the fused graph whatever its speed, so the
    # optimized graph (and int8 quantization of its fused ops) is always exercised here.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(export_module, "MIN_SPEEDUP", 0.0)
        report = export_onnx(run_dir, out, dev=dev, per_channel=False, num_threads=1)
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
    assert report["quantization"]["source"] == "model.opt.onnx"
    assert report["dev"]["fp32_file"] == "model.opt.onnx"


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
    texts = ["happy", LONG, "angry furious mad hate and sad", "thanks", "why how what", LONG[:40]]
    clf = OnnxClassifier(out / "model.onnx", num_threads=1)
    probs = clf.predict_proba(texts, batch_size=2)  # several batches, each padded differently
    np.testing.assert_allclose(probs, torch_model.predict_proba(texts), atol=1e-4)
    one_by_one = np.vstack([clf.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(probs, one_by_one, atol=1e-5)
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


def test_export_refuses_a_tfidf_model(tmp_path: Path) -> None:
    (tmp_path / "emotag.json").write_text(json.dumps(
        {"format_version": 1, "model_type": "tfidf", "label_names": ["a"]}))
    with pytest.raises(ModelFormatError, match="transformer run"):
        export_onnx(tmp_path)


def test_cli_export(run_dir: Path, tiny_data: Path, tmp_path: Path) -> None:
    os.environ["EMOTAG_DATA_DIR"] = str(tiny_data)  # the CLI reads the bundled dev split
    try:
        result = CliRunner().invoke(app, [
            "export", str(run_dir), "--onnx", "--no-optimize", "--output",
            str(tmp_path / "o"), "--package", str(tmp_path / "pkg")])
    finally:
        del os.environ["EMOTAG_DATA_DIR"]
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = json.loads((tmp_path / "o" / "export_report.json").read_text())
    assert "optimizer" not in report and "int8" in report["models"]
    assert "dev macro-F1" in result.output and "onnx int8" in result.output
    assert emotag.load(tmp_path / "pkg").model.onnx_file.name == "model.int8.onnx"
