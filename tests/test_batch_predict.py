"""Streaming batch scoring (``emotag predict --input X --output Y``): every format, bad rows,
column clashes, interruption and --resume (a raised exception and a real kill -9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import emotag
from emotag.cli.app import app
from emotag.data.writers import partial_path
from emotag.errors import DataError, ResumeError
from emotag.inference.batch_scoring import PRED_COLUMN, output_column_names
from emotag.inference.streaming import progress_path, score_file

runner = CliRunner()
FORMATS = ["txt", "csv", "tsv", "jsonl", "parquet"]
SCORES = [f"score_{n}" for n in emotag.GOEMOTIONS_LABELS]
TEXTS = ["thank you so much!", "why would they do that??", "", "I am so angry right now",
         "this is the best day ever", "I miss her so much", "ok", "wow, I did not expect that",
         "that is disgusting", "I'm scared of the dark", "lol that's hilarious", "meh",
         "a,comma \"quoted\"\ttab", "ünïcödé ♥ text"]


class Interrupted(Exception):
    """Raised from the chunk callback to stop a run the way a crash would."""


@pytest.fixture(scope="module")
def predictor() -> object:
    return emotag.load(num_threads=1)


def rows_frame(n: int = 40) -> pd.DataFrame:
    texts = [TEXTS[i % len(TEXTS)] + ("" if i < len(TEXTS) else f" #{i}") for i in range(n)]
    return pd.DataFrame({"id": [f"id{i:03d}" for i in range(n)], "text": texts,
                         "n": list(range(n))})


def write_input(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` in the format of ``path``'s suffix (txt: the text column only)."""
    fmt = path.suffix[1:]
    if fmt == "txt":
        path.write_text("".join(t + "\n" for t in frame["text"]), encoding="utf-8")
    elif fmt in ("csv", "tsv"):
        frame.to_csv(path, index=False, sep="," if fmt == "csv" else "\t")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                for r in frame.to_dict("records")), encoding="utf-8")
    else:
        frame.to_parquet(path, index=False)
    return path


def read_output(path: Path) -> pd.DataFrame:
    fmt = path.suffix[1:]
    if fmt in ("csv", "tsv", "txt"):
        return pd.read_csv(path, sep="," if fmt == "csv" else "\t", keep_default_na=False,
                           dtype={"id": str, "text": str, PRED_COLUMN: str})
    if fmt == "jsonl":
        return pd.DataFrame([json.loads(line) for line in path.read_text("utf-8").splitlines()])
    return pd.read_parquet(path)


def assert_same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        if col.startswith("score_"):
            np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float),
                                       atol=1e-6)
        else:
            assert a[col].tolist() == b[col].tolist(), col


def no_leftovers(output: Path) -> bool:
    return not partial_path(output).exists() and not progress_path(output).exists()


# --------------------------------------------------------------------------- formats
@pytest.mark.parametrize("fmt_in", FORMATS)
def test_every_format_round_trips(predictor: object, tmp_path: Path, fmt_in: str) -> None:
    frame = rows_frame(20)
    src = write_input(frame, tmp_path / f"in.{fmt_in}")
    expected = predictor.predict_proba(frame["text"].tolist())  # one chunk = the same batches
    in_cols = ["text"] if fmt_in == "txt" else ["id", "text", "n"]
    for fmt_out in FORMATS:
        out = tmp_path / f"out.{fmt_out}"
        result = score_file(predictor, src, out, chunk_size=100, show_progress=False)
        assert result.rows == 20 and no_leftovers(out)
        got = read_output(out)
        assert list(got.columns) == in_cols + output_column_names(predictor.labels), fmt_out
        assert got["text"].tolist() == frame["text"].tolist(), fmt_out
        if fmt_in != "txt":
            assert got["id"].tolist() == frame["id"].tolist()
            assert [int(x) for x in got["n"]] == list(range(20))
        np.testing.assert_allclose(got[SCORES].to_numpy(float), expected, atol=1e-6)
        labels = predictor.predict(frame["text"].tolist())
        assert got[PRED_COLUMN].tolist() == [",".join(x["label"] for x in r) for r in labels]
        if fmt_out == "parquet":
            assert got["score_joy"].dtype == np.float32


def test_parquet_types_survive(predictor: object, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": pa.array([1, None, 3], pa.int64()), "text": ["a", "b", "c"],
                      "tags": [["x"], [], None]})
    pq.write_table(table, tmp_path / "in.parquet")
    score_file(predictor, tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_size=2,
               show_progress=False)
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.schema.field("id").type == pa.int64() and out["id"].to_pylist() == [1, None, 3]
    assert out["tags"].to_pylist() == [["x"], [], None]
    score_file(predictor, tmp_path / "in.parquet", tmp_path / "out.csv", show_progress=False)
    assert read_output(tmp_path / "out.csv")["tags"].tolist() == ['["x"]', "[]", ""]


def test_options_taxonomy_threshold_top_k(predictor: object, tmp_path: Path) -> None:
    src = write_input(rows_frame(12), tmp_path / "in.csv")
    score_file(predictor, src, tmp_path / "ekman.csv", taxonomy="ekman", top_k=1,
               threshold=0.0, show_progress=False)
    got = read_output(tmp_path / "ekman.csv")
    assert [c for c in got.columns if c.startswith("score_")] == [
        "score_anger", "score_disgust", "score_fear", "score_joy", "score_sadness",
        "score_surprise", "score_neutral"]
    assert all(len(p.split(",")) == 1 for p in got[PRED_COLUMN])  # threshold 0, top-k 1


def test_empty_input_gives_header_only(predictor: object, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,text\n", encoding="utf-8")
    result = score_file(predictor, tmp_path / "in.csv", tmp_path / "out.csv",
                        show_progress=False)
    assert result.rows == 0
    header = (tmp_path / "out.csv").read_text().splitlines()
    assert header == [",".join(["id", "text", *output_column_names(predictor.labels)])]


def test_csv_with_a_byte_order_mark(predictor: object, tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_bytes("\ufeffid,text\n1,thanks!\n".encode())
    score_file(predictor, tmp_path / "in.csv", tmp_path / "out.csv", show_progress=False)
    assert read_output(tmp_path / "out.csv")["id"].tolist() == ["1"]


# --------------------------------------------------------------------------- bad rows
@pytest.mark.parametrize(("name", "content", "row", "message"), [
    ("in.csv", "id,body\n1,hello\n", 1, "missing column 'text'"),
    ("in.jsonl", '{"text": "a"}\n{"text": "b"}\n{"text": null}\n', 3, "is null"),
    ("in.jsonl", '{"text": "a"}\n{"text": 5}\n', 2, "must be a string, got int"),
    ("in.jsonl", '{"text": "a"}\n{"id": 2}\n', 2, "no 'text' key"),
    ("in.jsonl", '{"text": "a"}\n{"text": "b"\n', 2, "invalid JSON"),
    ("in.jsonl", '{"text": "a"}\n[1, 2]\n', 2, "JSON object"),
])
def test_bad_rows_name_file_and_row(predictor: object, tmp_path: Path, name: str, content: str,
                                    row: int, message: str) -> None:
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        score_file(predictor, src, tmp_path / "out.csv", chunk_size=1, show_progress=False)
    assert info.value.path == str(src) and info.value.row == row
    assert not (tmp_path / "out.csv").exists()  # nothing half-written is published
    assert no_leftovers(tmp_path / "out.csv")  # an unresumable partial run is removed


def test_null_text_in_parquet(predictor: object, tmp_path: Path) -> None:
    pd.DataFrame({"text": ["a", "b", None]}).to_parquet(tmp_path / "in.parquet")
    with pytest.raises(DataError, match="is null") as info:
        score_file(predictor, tmp_path / "in.parquet", tmp_path / "out.jsonl",
                   show_progress=False)
    assert info.value.row == 3


def test_jsonl_keys_must_match_for_tables(predictor: object, tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a"}\n{"text": "b", "extra": 1}\n', encoding="utf-8")
    with pytest.raises(DataError, match="first row's keys") as info:
        score_file(predictor, src, tmp_path / "out.csv", show_progress=False)
    assert info.value.row == 2
    score_file(predictor, src, tmp_path / "out.jsonl", show_progress=False)  # fine as jsonl
    rows = read_output(tmp_path / "out.jsonl")
    assert rows["extra"].isna().tolist() == [True, False]


@pytest.mark.parametrize("column", ["pred_labels", "score_joy"])
def test_column_clash_is_refused(predictor: object, tmp_path: Path, column: str) -> None:
    src = write_input(rows_frame(3).assign(**{column: "x"}), tmp_path / "in.csv")
    with pytest.raises(DataError, match=column):
        score_file(predictor, src, tmp_path / "out.csv", show_progress=False)


# --------------------------------------------------------------------------- resume
def interrupted_run(predictor: object, src: Path, out: Path, after_rows: int,
                    chunk_size: int) -> None:
    def stop(rows_done: int) -> None:
        if rows_done >= after_rows:
            raise Interrupted

    with pytest.raises(Interrupted):
        score_file(predictor, src, out, chunk_size=chunk_size, show_progress=False,
                   on_chunk=stop)


@pytest.mark.parametrize("fmt", FORMATS)
def test_interrupted_then_resumed_equals_uninterrupted(predictor: object, tmp_path: Path,
                                                       fmt: str) -> None:
    src = write_input(rows_frame(40), tmp_path / f"in.{'jsonl' if fmt == 'txt' else fmt}")
    whole = tmp_path / f"whole.{fmt}"
    score_file(predictor, src, whole, chunk_size=7, show_progress=False)
    out = tmp_path / f"out.{fmt}"
    interrupted_run(predictor, src, out, after_rows=14, chunk_size=7)
    assert not out.exists() and partial_path(out).exists()
    assert json.loads(progress_path(out).read_text())["rows_done"] == 14
    # a crash while writing the next chunk leaves bytes (or a part file) after the commit
    if fmt == "parquet":
        (partial_path(out) / "part-000002.parquet").write_bytes(b"half a part")
    else:
        with open(partial_path(out), "ab") as f:
            f.write(b"half a row,0.1,0.")
    with pytest.raises(ResumeError, match="--resume"):
        score_file(predictor, src, out, chunk_size=7, show_progress=False)
    result = score_file(predictor, src, out, chunk_size=50, resume=True, show_progress=False)
    assert (result.rows, result.resumed_from, result.rows_scored) == (40, 14, 26)
    assert no_leftovers(out)
    assert_same_rows(read_output(out), read_output(whole))


def test_resume_refuses_a_changed_input_or_option(predictor: object, tmp_path: Path) -> None:
    src = write_input(rows_frame(20), tmp_path / "in.csv")
    out = tmp_path / "out.csv"
    interrupted_run(predictor, src, out, after_rows=5, chunk_size=5)
    with pytest.raises(ResumeError, match="threshold was None, now 0.3"):
        score_file(predictor, src, out, threshold=0.3, resume=True, show_progress=False)
    with open(src, "a", encoding="utf-8") as f:
        f.write("id999,one more row,999\n")
    with pytest.raises(ResumeError, match="input file changed"):
        score_file(predictor, src, out, resume=True, show_progress=False)
    assert partial_path(out).exists()  # refused, not destroyed


def test_resume_without_an_unfinished_run_starts_fresh(predictor: object,
                                                        tmp_path: Path) -> None:
    src = write_input(rows_frame(5), tmp_path / "in.csv")
    result = score_file(predictor, src, tmp_path / "out.csv", resume=True, show_progress=False)
    assert result.rows == 5 and result.resumed_from == 0


def test_cli_output_resume_and_refusal(tmp_path: Path) -> None:
    src = write_input(rows_frame(12), tmp_path / "in.csv")
    out = tmp_path / "out.jsonl"
    args = ["predict", "--input", str(src), "--output", str(out), "--chunk-size", "5",
            "--threads", "1", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "wrote 12 rows" in result.output
    first = read_output(out)
    assert first["id"].tolist() == rows_frame(12)["id"].tolist()
    partial_path(out).write_text("left over\n")  # an unfinished run in the way
    result = runner.invoke(app, args)
    assert isinstance(result.exception, ResumeError)
    assert "--resume" in str(result.exception) and "delete" in str(result.exception)
    result = runner.invoke(app, [*args[:-1], "--json"])
    assert result.exit_code != 0 and "--json" in result.output


def test_cli_prints_a_streamed_txt_input(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("thank you!\n\nI hate this\nwow\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", "--input", str(src), "--json", "--chunk-size", "2",
                                 "--threads", "1"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    rows = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [r["text"] for r in rows] == ["thank you!", "I hate this", "wow"]  # blank skipped
    assert rows[0]["labels"][0]["label"] == "gratitude"


def test_kill_9_then_resume(predictor: object, tmp_path: Path) -> None:
    """A real SIGKILL in the middle of a run, then --resume: same rows as a whole run."""
    src = write_input(rows_frame(400), tmp_path / "in.csv")
    out = tmp_path / "out.csv"
    cmd = [sys.executable, "-m", "emotag.cli.app", "predict", "--input", str(src), "--output",
           str(out), "--chunk-size", "10", "--threads", "1", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sidecar, deadline = progress_path(out), time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads(sidecar.read_text())["rows_done"] >= 30:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    done = json.loads(sidecar.read_text())["rows_done"]
    assert 30 <= done < 400 and not out.exists()
    result = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert no_leftovers(out)
    whole = tmp_path / "whole.csv"
    score_file(predictor, src, whole, chunk_size=10, show_progress=False)
    assert_same_rows(read_output(out), read_output(whole))


def test_resume_ignores_what_evaluate_and_export_add_to_the_model_folder(
        tmp_path: Path, tiny_data: Path) -> None:
    """Regression: evaluate (``evaluation/``) and export (``onnx/``, reports) wrote into the
    model folder and --resume then refused with "the model changed"; only the files that
    decide scores (manifest, weights, thresholds, calibration) count."""
    run = tmp_path / "run"
    trained = runner.invoke(app, ["train", "--output", str(run), "--set",
                                  "model.model_type=tfidf", "--set", f"data.data_dir={tiny_data}"])
    assert trained.exit_code == 0, trained.output + repr(trained.exception)
    predictor = emotag.load(run)
    src = write_input(rows_frame(20), tmp_path / "in.csv")
    out = tmp_path / "out.csv"
    interrupted_run(predictor, src, out, after_rows=5, chunk_size=5)
    evaluated = runner.invoke(app, ["evaluate", str(run), "--split", "test"])
    assert evaluated.exit_code == 0, evaluated.output + repr(evaluated.exception)
    assert (run / "evaluation" / "metrics.json").is_file()
    (run / "onnx").mkdir()  # what `emotag export RUN` writes beside a PyTorch model
    (run / "onnx" / "model.onnx").write_bytes(b"an export")
    (run / "onnx" / "export_report.json").write_text("{}")
    (run / "report.md").write_text("rewritten report")
    result = score_file(emotag.load(run), src, out, resume=True, show_progress=False)
    assert (result.rows, result.resumed_from) == (20, 5)
    # what does change decisions still refuses
    interrupted_run(predictor, src, out, after_rows=5, chunk_size=5)
    thresholds = json.loads((run / "thresholds.json").read_text())
    (run / "thresholds.json").write_text(json.dumps(thresholds) + "\n")  # same values, new bytes
    with pytest.raises(ResumeError, match="the model"):
        score_file(emotag.load(run), src, out, resume=True, show_progress=False)


def test_score_columns_check_the_taxonomy_against_the_model_labels() -> None:
    """Batch scoring asks the one taxonomy check (inference.groups.check_taxonomy) before
    anything is written: an unknown name, or a grouping the labels do not cover."""
    from types import SimpleNamespace

    from emotag.errors import TaxonomyError
    from emotag.inference.streaming import output_label_names

    custom = SimpleNamespace(labels=["frustrated", "urgent", "grateful"])
    assert output_label_names(custom, "goemotions") == custom.labels
    with pytest.raises(TaxonomyError, match="groups GoEmotions labels"):
        output_label_names(custom, "ekman")
    with pytest.raises(TaxonomyError, match="unknown taxonomy 'plutchik'"):
        output_label_names(custom, "plutchik")
