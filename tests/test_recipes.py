"""The built-in recipes and the ablations in experiments/configs resolve, and each ablation
differs from the recipe it extends only in what it says it varies."""

from __future__ import annotations

from pathlib import Path

import pytest

from emotag.config import load_config
from emotag.resources import configs_dir

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments" / "configs"
RECIPES = ("tfidf", "minilm", "mpnet", "mpnet-seed2", "mpnet-top6", "knn-minilm", "student",
           "student-l3")


def _flat(name_or_path) -> dict:
    cfg = load_config(name_or_path).to_dict()
    return {f"{group}.{key}": value for group, values in cfg.items()
            for key, value in values.items()}


def _diff(a: dict, b: dict) -> dict:
    return {k: b[k] for k in a if a[k] != b[k]}


def test_every_shipped_recipe_is_listed_and_resolves():
    assert sorted(p.stem for p in configs_dir().glob("*.yaml")) == sorted(RECIPES)
    for name in RECIPES:
        load_config(name)


@pytest.mark.parametrize(("recipe", "base", "changes"), [
    ("mpnet-seed2", "mpnet", {"train.seed": 7}),
    ("mpnet-top6", "mpnet", {"train.freeze_layers": 6, "train.learning_rate": 5e-5}),
    ("student", "minilm", {"train.distill_teacher": "results/ens3"}),
    ("student-l3", "student", {"model.num_hidden_layers": 3, "train.save_steps": 400}),
])
def test_a_recipe_is_its_base_plus_its_override(recipe, base, changes):
    assert _diff(_flat(base), _flat(recipe)) == changes


def test_the_recipes_keep_their_settings():
    minilm, mpnet, tfidf = _flat("minilm"), _flat("mpnet"), _flat("tfidf")
    assert (minilm["train.learning_rate"], minilm["train.head_learning_rate"],
            minilm["train.epochs"], minilm["train.bf16"]) == (1e-4, 3e-3, 3.0, True)
    assert (mpnet["model.backbone"], mpnet["train.epochs"], mpnet["train.learning_rate"],
            mpnet["train.head_learning_rate"]) == ("mpnet", 2.0, 4e-5, 1e-3)
    assert (tfidf["model.model_type"], tfidf["model.C"]) == ("tfidf", 1.0)
    assert _flat("knn-minilm")["model.encoder"] == "runs/minilm"
    assert {k: v for k, v in minilm.items() if k.startswith("thresholds.")} == {
        "thresholds.strategy": "per_label_shrunk", "thresholds.prior_strength": 20.0,
        "thresholds.group_weight": 0.0}


@pytest.mark.skipif(not EXPERIMENTS.is_dir(), reason="experiments/ is not in an installed copy")
@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_ablation_resolves_and_varies_only_a_few_settings(path):
    base = "mpnet" if path.stem.startswith("mpnet") else (
        "knn-minilm" if path.stem.startswith("knn") else "minilm")
    changed = _diff(_flat(base), _flat(path))
    assert 1 <= len(changed) <= 3, changed
