"""``emotag adapt`` and the out-of-domain scoring, on a tiny TF-IDF model: a domain whose
labels differ from the model's in a learnable way, files too small, labels never shown."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import emotag
from conftest import WORDS
from emotag.cli.app import app
from emotag.data.datasets import load_goemotions
from emotag.errors import DataError, TaxonomyError
from emotag.evaluation.ood import adapted_runs, evaluate_file, read_taxonomy_file, score_decisions
from emotag.inference.adapt import (
    ADAPTATION_FILE,
    MIN_ROWS,
    Adaptation,
    adapt_model,
    fit_offset_logistic,
)
from emotag.inference.streaming import score_file
from emotag.labels import GOEMOTIONS_LABELS
from emotag.models.base import save_model

runner = CliRunner()
#: the domain's convention: what the model calls joy, this domain labels surprise
DOMAIN = {"joy": "surprise", "anger": "anger", "sadness": "sadness", "fear": "fear",
          "neutral": "neutral", "love": "joy", "gratitude": "joy"}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> Path:
    from emotag.models.tfidf import TfidfLogRegClassifier

    folder = tmp_path_factory.mktemp("model") / "tfidf"
    save_model(TfidfLogRegClassifier(C=4.0).fit(load_goemotions(tiny_data)["train"]), folder)
    (folder / "thresholds.json").write_text(json.dumps({n: 0.3 for n in GOEMOTIONS_LABELS}))
    return folder


def domain_file(path: Path, n: int, seed: int = 0, kinds: tuple[str, ...] = tuple(DOMAIN)
                ) -> Path:
    """Single-label rows in Ekman names, written as a user would (TSV)."""
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, delimiter="\t")
        out.writerow(["text", "labels"])
        for i in range(n):
            kind = kinds[i % len(kinds)]
            out.writerow([" ".join(rng.choice(WORDS[kind].split(), size=3)), DOMAIN[kind]])
    return path


def test_offset_logistic_matches_scikit_learn() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    y = (rng.random(500) < 1 / (1 + np.exp(-(x @ [1.5, -1.0, 0.0] + 0.3)))).astype(float)
    w, b = fit_offset_logistic(x, y, np.zeros(500), l2=1.0)
    ref = LogisticRegression(C=1.0, tol=1e-10).fit(x, y)   # same L2 (sum of losses + |w|^2/2C)
    np.testing.assert_allclose(w, ref.coef_[0], atol=2e-2)
    assert b == pytest.approx(ref.intercept_[0], abs=2e-2)
    # an offset is a fixed part of the logit: fitting on offset o equals shifting the intercept
    w2, b2 = fit_offset_logistic(np.zeros((500, 1)), y, np.full(500, 2.0), l2=1.0)
    assert b2 == pytest.approx(np.log(y.mean() / (1 - y.mean())) - 2.0, abs=0.05)


def test_adapt_learns_the_domain_and_writes_a_model_folder(tiny_model: Path,
                                                          tmp_path: Path) -> None:
    data = domain_file(tmp_path / "domain.tsv", 210, kinds=("joy", "anger", "sadness", "fear",
                                                             "love"))
    out = tmp_path / "adapted"
    result = runner.invoke(app, ["adapt", str(tiny_model), "--data", str(data), "--taxonomy",
                                 "ekman", "--output", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "cross-validated macro-F1" in result.output and "gain +" in result.output
    assert "kept the model's own scores and thresholds" in result.output  # neutral, disgust...
    base, adapted = emotag.load(tiny_model), emotag.load(out)
    texts = ["happy glad wonderful", "angry furious hate"]
    assert adapted.predict(texts[0], taxonomy="ekman")[0]["label"] == "surprise"
    assert base.predict(texts[0], taxonomy="ekman")[0]["label"] == "joy"
    assert adapted.predict(texts[1], taxonomy="ekman")[0]["label"] == "anger"
    # other taxonomies and raw scores are the base model's
    np.testing.assert_array_equal(adapted.predict_proba(texts), base.predict_proba(texts))
    assert adapted.predict(texts) == base.predict(texts)
    # batch scoring writes what predict says
    src = tmp_path / "in.csv"
    src.write_text("text\n" + "\n".join(texts) + "\n", encoding="utf-8")
    score_file(adapted, src, tmp_path / "out.csv", taxonomy="ekman", show_progress=False)
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row, text in zip(rows, texts, strict=True):
        expected = adapted.predict(text, taxonomy="ekman")
        assert row["pred_labels"] == ",".join(x["label"] for x in expected)
        assert float(row["score_surprise"]) == pytest.approx(
            {x["label"]: x["score"] for x in adapted.predict(text, taxonomy="ekman",
                                                              all_scores=True)}["surprise"],
            abs=1e-6)
    spec = json.loads((out / ADAPTATION_FILE).read_text(encoding="utf-8"))
    assert spec["taxonomy"] == "ekman" and spec["cross_validation"]["gain"] > 0


def test_labels_the_file_never_shows_keep_the_base_decisions(tiny_model: Path,
                                                            tmp_path: Path) -> None:
    data = domain_file(tmp_path / "d.tsv", 120, kinds=("joy", "anger"))
    result = adapt_model(data, tmp_path / "a", model_dir=tiny_model, taxonomy="ekman")
    assert result["adapted"] == ["anger", "surprise"]
    assert {"fear", "sadness", "neutral", "joy"} <= set(result["kept_base"])
    base, adapted = emotag.load(tiny_model), emotag.load(tmp_path / "a")
    probs = base.predict_proba(["scared afraid terrified", "sad crying"])
    b_scores, names, b_cuts = base.decision_view(probs, "ekman")
    a_scores, _, a_cuts = adapted.decision_view(probs, "ekman")
    for name in ("fear", "sadness", "neutral"):
        j = names.index(name)
        np.testing.assert_allclose(a_scores[:, j], b_scores[:, j], atol=1e-6)
        assert a_cuts[j] == b_cuts[j]


def test_adapting_an_adapted_model_starts_from_the_base(tiny_model: Path, tmp_path: Path) -> None:
    first = domain_file(tmp_path / "first.tsv", 100, kinds=("joy", "anger"))
    second = domain_file(tmp_path / "second.tsv", 100, seed=1, kinds=("joy", "anger"))
    adapt_model(first, tmp_path / "a1", model_dir=tiny_model, taxonomy="ekman")
    adapt_model(second, tmp_path / "a2", model_dir=tmp_path / "a1", taxonomy="ekman")
    direct = adapt_model(second, tmp_path / "b", model_dir=tiny_model, taxonomy="ekman")
    twice, once = emotag.load(tmp_path / "a2"), emotag.load(tmp_path / "b")
    texts = ["happy glad", "angry mad", "sad crying"]
    assert twice.predict(texts, taxonomy="ekman") == once.predict(texts, taxonomy="ekman")
    assert direct["cross_validation"]["gain"] > 0


def test_adapt_in_the_models_own_labels(tiny_model: Path, tmp_path: Path) -> None:
    path = tmp_path / "own.jsonl"
    rows = [{"text": " ".join(np.random.default_rng(i).choice(WORDS[k].split(), 2)),
             "labels": [{"joy": "gratitude"}.get(k, k)]}
            for i, k in enumerate(["joy", "anger", "gratitude", "sadness"] * 20)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    adapt_model(path, tmp_path / "own", model_dir=tiny_model)
    adapted = emotag.load(tmp_path / "own")
    assert adapted.adaptation is not None and adapted.adaptation.taxonomy == "goemotions"
    labels = [x["label"] for x in adapted.predict("happy glad great")]
    assert "gratitude" in labels                     # joy never shown: the model's own cut
    assert "gratitude" not in [x["label"] for x in emotag.load(tiny_model).predict(
        "happy glad great")]


def test_refuses_small_files_bad_labels_and_existing_outputs(tiny_model: Path,
                                                            tmp_path: Path) -> None:
    small = domain_file(tmp_path / "small.tsv", MIN_ROWS - 1)
    result = runner.invoke(app, ["adapt", str(tiny_model), "--data", str(small),
                                 "--taxonomy", "ekman", "--output", str(tmp_path / "x")])
    assert result.exit_code == 1
    with pytest.raises(DataError, match=f"{MIN_ROWS - 1} labelled rows; adapting needs at "
                                        f"least {MIN_ROWS}"):
        adapt_model(small, tmp_path / "x", model_dir=tiny_model, taxonomy="ekman")
    assert not (tmp_path / "x").exists()
    bad = tmp_path / "bad.tsv"
    bad.write_text("text\tlabels\nhello\tjoy\nhi\tgratitude\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 2.*unknown label 'gratitude'|unknown label "
                                        "'gratitude'"):
        adapt_model(bad, tmp_path / "x", model_dir=tiny_model, taxonomy="ekman")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="not an empty folder"):
        adapt_model(small, tmp_path / "full", model_dir=tiny_model, taxonomy="ekman")
    with pytest.raises(DataError, match="the model folder itself"):
        adapt_model(small, tiny_model, model_dir=tiny_model, taxonomy="ekman")
    with pytest.raises(DataError, match="or inside it"):
        adapt_model(small, tiny_model / "sub", model_dir=tiny_model, taxonomy="ekman")
    with pytest.raises(TaxonomyError, match="plutchik"):
        adapt_model(small, tmp_path / "y", model_dir=tiny_model, taxonomy="plutchik")


def test_adaptation_file_round_trip_and_mismatch(tmp_path: Path) -> None:
    labels = ["a", "b"]
    ad = Adaptation("goemotions", labels, labels, np.array([True, False]), np.zeros(2),
                    np.ones(2), np.array([[0.5, -0.5], [0.0, 0.0]]), np.array([0.1, 0.0]),
                    np.array([0.4, np.nan]))
    ad.save(tmp_path)
    back = Adaptation.load(tmp_path / ADAPTATION_FILE, labels)
    probs = np.array([[0.2, 0.7], [0.9, 0.1]])
    np.testing.assert_allclose(back.scores(probs, probs), ad.scores(probs, probs), atol=1e-6)
    np.testing.assert_allclose(back.cuts(np.array([0.3, 0.3])), [0.4, 0.3])
    np.testing.assert_allclose(back.scores(probs, probs)[:, 1], probs[:, 1], atol=1e-6)
    from emotag.errors import ModelFormatError

    with pytest.raises(ModelFormatError, match="adapted for labels"):
        Adaptation.load(tmp_path / ADAPTATION_FILE, ["a", "c"])


def test_score_decisions_counts_only_labels_the_file_has() -> None:
    names = ["anger", "joy", "neutral", "fear"]
    y = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]])
    pred = np.array([[1, 0, 0, 1], [0, 0, 1, 0], [0, 0, 1, 0], [0, 1, 0, 0]])
    out = score_decisions(y, pred, names, exclude=("neutral",), bootstrap=50)
    assert out["labels"] == ["anger", "joy"]                    # fear absent, neutral excluded
    assert out["per_label"]["joy"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3),
                                       "support": 2}
    assert out["macro_f1"] == pytest.approx((1 + 2 / 3) / 2)
    low, high = out["macro_f1_interval"]
    assert 0 <= low <= high <= 1


def test_evaluate_file_and_adapted_runs(tiny_model: Path, tmp_path: Path) -> None:
    data = domain_file(tmp_path / "d.tsv", 300, kinds=("joy", "anger", "sadness", "fear"))
    predictor = emotag.load(tiny_model)
    zero = evaluate_file(predictor, data, "ekman", bootstrap=0)
    assert zero["labels"] == ["anger", "fear", "sadness", "surprise"]
    assert zero["per_label"]["surprise"]["recall"] == 0.0        # the model says joy
    rows = read_taxonomy_file(predictor, data, "ekman")
    adapted = adapted_runs(predictor, rows, "ekman", n_rows=100, draws=2, bootstrap=0)
    assert [r["seed"] for r in adapted["runs"]] == [0, 1]
    assert all(r["adapted"]["n_rows"] == 200 for r in adapted["runs"])   # scored on the rest
    assert adapted["macro_f1"] > adapted["base_macro_f1_same_rows"] + 0.2
    with pytest.raises(DataError, match="needs 280 to fit"):
        adapted_runs(predictor, rows, "ekman", n_rows=280, draws=1)


def test_adapting_and_using_the_shipped_model_need_only_the_base_install(tmp_path: Path) -> None:
    """scikit-learn and torch blocked (``sys.modules[name] = None``): adapting the shipped ONNX
    model and scoring with the result still work."""
    import subprocess
    import sys

    data = domain_file(tmp_path / "d.tsv", 60, kinds=("joy", "anger", "sadness"))
    code = (
        "import sys\n"
        "for name in ('sklearn', 'scipy', 'torch', 'transformers'):\n"
        "    sys.modules[name] = None\n"
        "import emotag\n"
        "from emotag.inference.adapt import adapt_model\n"
        f"adapt_model({str(data)!r}, {str(tmp_path / 'out')!r}, taxonomy='ekman')\n"
        f"print(emotag.load({str(tmp_path / 'out')!r}).predict('angry furious', "
        "taxonomy='ekman')[0]['label'])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "anger"
