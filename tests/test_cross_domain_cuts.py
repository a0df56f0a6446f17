"""The Ekman cuts that ``scripts/make_default_model.sh`` ships are chosen across domains and
written into the model folder by ``cross_domain_group_thresholds.py --apply`` (formerly a
literal in the shell script, which had to be edited by hand for every new model)."""

from __future__ import annotations

import json
import runpy
import shutil
import sys
from pathlib import Path

import pytest

import emotag
from emotag.inference.groups import load_group_thresholds

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments/scripts/cross_domain_group_thresholds.py"
SUITE = ("dailydialog", "emoevent_en", "goodnewseveryone", "enisear")
ROWS = [("I am furious about this", "anger"), ("that is revolting, gross", "disgust"),
        ("I am terrified of the dark", "fear"), ("what a wonderful day, so happy", "joy"),
        ("I miss her so much, I cried", "sadness"),
        ("wow, I did not expect that at all", "surprise"),
        ("please send the form by Friday", "neutral"), ("the meeting is at noon", "neutral")]


def write_suite(folder: Path) -> Path:
    folder.mkdir()
    lines = "text\tlabels\n" + "".join(f"{t}\t{lab}\n" for t, lab in ROWS * 3)
    for name in SUITE:
        (folder / f"{name}.tsv").write_text(lines, encoding="utf-8")
    return folder


def test_apply_writes_the_chosen_ekman_cuts_into_the_folder(tmp_path, monkeypatch, capsys):
    model = shutil.copytree(emotag.load().path, tmp_path / "model")
    before = load_group_thresholds(model, calibrated=True)
    monkeypatch.setenv("EMOTAG_OOD_DIR", str(write_suite(tmp_path / "suite")))
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--model", str(model), "--apply",
                                      "--json", str(tmp_path / "out.json")])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert done.value.code == 0
    chosen = json.loads((tmp_path / "out.json").read_text())["chosen"]
    after = load_group_thresholds(model, calibrated=True)
    assert after["sentiment"] == before["sentiment"]           # only Ekman is touched
    assert after["ekman"]["neutral"] == pytest.approx(before["ekman"]["neutral"], abs=1e-4)
    if chosen.startswith("common="):
        cut = float(chosen.split("=")[1])
        assert {after["ekman"][g] for g in ("anger", "disgust", "joy")} == {cut}
    spec = json.loads((model / "group_thresholds.json").read_text())
    assert chosen in spec["fitted_on"]
    assert f"wrote {model / 'group_thresholds.json'}" in capsys.readouterr().out
    # the folder still loads and decides with the new cuts
    reloaded = emotag.load(model)
    view = reloaded.decision_view(reloaded.predict_proba(["so gross"]), "ekman")
    assert list(view[2]) == pytest.approx([after["ekman"][n] for n in view[1]])
