"""End to end: train through the CLI on tiny data, reload, resume after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import emotag
from conftest import tiny_overrides
from emotag.cli.app import app
from emotag.config import load_config
from emotag.training.pipeline import train_run
from emotag.training.trainer import last_complete_checkpoint

runner = CliRunner()


def cli_train(out: Path, overrides: list[str], *extra: str) -> None:
    args = ["train", "--output", str(out), *extra]
    for o in overrides:
        args += ["--set", o]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path,
                tiny_bert: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    cli_train(out, tiny_overrides(tiny_data, tiny_bert))
    return out


def test_cli_train_writes_every_artifact(trained_run: Path) -> None:
    for name in ("emotag.json", "thresholds.json", "metrics.json", "report.md", "report.html",
                 "run_log.json", "train_config.json", "transformer/model.safetensors",
                 "plots/per_label_f1.png", "plots/pr_curves.png", "plots/cooccurrence.png",
                 "plots/confusion.png", "plots/loss.png"):
        assert (trained_run / name).is_file(), name
    assert not (trained_run / "checkpoints").exists()  # removed after a successful run
    assert not list(trained_run.rglob("*.bin")) and not list(trained_run.rglob("*.pkl"))
    thresholds = json.loads((trained_run / "thresholds.json").read_text())
    assert list(thresholds) == list(emotag.GOEMOTIONS_LABELS)
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert set(metrics["splits"]) == {"dev", "test"}
    for split in ("dev", "test"):
        assert set(metrics["splits"][split]) == {"at_0.5", "tuned"}
        probs = np.load(trained_run / "predictions" / f"{split}_probs.npy")
        assert probs.shape == (60, 28) and probs.dtype == np.float32
    log = json.loads((trained_run / "run_log.json").read_text())
    assert log["versions"]["torch"] and log["timings"]["total_s"] > 0
    losses = [e["loss"] for e in log["log_history"] if "loss" in e]
    assert losses[-1] < losses[0]  # it learned something
    assert any("eval_loss" in e for e in log["log_history"])


def test_hf_config_is_multi_label(trained_run: Path) -> None:
    config = json.loads((trained_run / "transformer" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["id2label"]["0"] == "admiration" and config["id2label"]["27"] == "neutral"


def test_reload_gives_identical_scores(trained_run: Path, tiny_data: Path) -> None:
    from emotag.data.datasets import load_goemotions

    test = load_goemotions(tiny_data)["test"]
    predictor = emotag.load(trained_run)
    saved = np.load(trained_run / "predictions" / "test_probs.npy")
    np.testing.assert_allclose(predictor.predict_proba(test.texts), saved, atol=1e-5)


def test_transformers_pipeline_applies_sigmoid(trained_run: Path) -> None:
    from transformers import pipeline

    clf = pipeline("text-classification", model=str(trained_run / "transformer"), top_k=None,
                   trust_remote_code=True)  # the mean-pooling class ships in the folder
    scores = {d["label"]: d["score"] for d in clf(["happy glad thanks"])[0]}
    ours = emotag.load(trained_run).predict_proba("happy glad thanks")
    np.testing.assert_allclose([scores[n] for n in emotag.GOEMOTIONS_LABELS], ours, atol=1e-5)
    assert sum(scores.values()) != pytest.approx(1.0, abs=1e-3)  # not a softmax


def _train_crashing_at_step(cfg, out: Path, step: int,  # noqa: ANN001
                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ``train_run`` and make optimiser step ``step`` (1-based) raise, like a crash."""
    from emotag.training.trainer import EmotagTrainer

    original = EmotagTrainer.training_step
    calls = {"n": 0}

    def crashing(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == step:
            raise RuntimeError("simulated crash")
        return original(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(EmotagTrainer, "training_step", crashing)
        with pytest.raises(RuntimeError, match="simulated crash"):
            train_run(cfg, out)


def test_resume_after_crash_matches_uninterrupted(tmp_path: Path, trained_run: Path,
                                                  tiny_data: Path, tiny_bert: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(None, tiny_overrides(tiny_data, tiny_bert))
    out = tmp_path / "crashed"
    _train_crashing_at_step(cfg, out, 7, monkeypatch)  # after checkpoint-4, before checkpoint-8
    assert last_complete_checkpoint(out / "checkpoints").name == "checkpoint-4"
    with pytest.raises(emotag.errors.ConfigError, match="--resume"):
        train_run(cfg, out)  # refuses to overwrite without --resume
    train_run(cfg, out, resume=True)
    log = json.loads((out / "run_log.json").read_text())
    assert log["resumed_from"].endswith("checkpoint-4")
    np.testing.assert_allclose(np.load(out / "predictions" / "test_probs.npy"),
                               np.load(trained_run / "predictions" / "test_probs.npy"), atol=1e-5)


def test_resume_in_a_later_epoch_replays_the_same_batches(tmp_path: Path, tiny_data: Path,
                                                          tiny_bert: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the stock length-grouped sampler drew each epoch's order from torch's
    global RNG, so a run resumed in epoch 3 saw other batches than an uninterrupted run."""
    cfg = load_config(None, tiny_overrides(tiny_data, tiny_bert, **{"train.max_steps": 36}))
    train_run(cfg, tmp_path / "whole")                    # 12 steps per epoch, 3 epochs
    _train_crashing_at_step(cfg, tmp_path / "crashed", 30, monkeypatch)  # epoch 3
    assert last_complete_checkpoint(tmp_path / "crashed" / "checkpoints").name == "checkpoint-28"
    train_run(cfg, tmp_path / "crashed", resume=True)
    np.testing.assert_allclose(np.load(tmp_path / "crashed" / "predictions" / "test_probs.npy"),
                               np.load(tmp_path / "whole" / "predictions" / "test_probs.npy"),
                               atol=1e-5)


def test_resume_refuses_a_changed_config(trained_run: Path, tiny_data: Path,
                                         tiny_bert: Path) -> None:
    cfg = load_config(None, tiny_overrides(tiny_data, tiny_bert, **{"train.seed": 7}))
    with pytest.raises(emotag.errors.ConfigError, match="different config"):
        train_run(cfg, trained_run, resume=True)


def test_half_written_checkpoint_is_ignored(tmp_path: Path) -> None:
    good = tmp_path / "checkpoint-4"
    good.mkdir()
    for name in ("trainer_state.json", "optimizer.pt", "scheduler.pt"):
        (good / name).write_text("{}")
    partial = tmp_path / "checkpoint-8"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"\0")  # killed before the state was written
    assert last_complete_checkpoint(tmp_path) == good
    assert not partial.exists()


def test_evaluate_command_recomputes_the_report(trained_run: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # evaluate scores the data the run was trained on: its train_config.json names the tiny
    # copy (data.data_dir), so no environment variable points it there
    monkeypatch.delenv("EMOTAG_DATA_DIR", raising=False)
    result = runner.invoke(app, ["evaluate", str(trained_run), "--split", "test",
                                 "--output", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    data = json.loads((tmp_path / "ev" / "metrics.json").read_text())["data"]
    assert data["config"] == str(trained_run / "train_config.json")
    again = json.loads((tmp_path / "ev" / "metrics.json").read_text())["splits"]["test"]
    first = json.loads((trained_run / "metrics.json").read_text())["splits"]["test"]
    for avg in ("micro", "macro", "weighted", "samples"):
        assert again["tuned"]["averages"][avg] == pytest.approx(first["tuned"]["averages"][avg])
    assert (tmp_path / "ev" / "report.html").is_file()


def test_bf16_run_is_evaluated_as_saved(tmp_path: Path, tiny_data: Path, tiny_bert: Path) -> None:
    """Regression: with bf16 autocast, the in-memory model after training still ran under
    autocast, so thresholds were tuned on scores the saved fp32 model never produces."""
    from emotag.data.datasets import load_goemotions

    cfg = load_config(None, tiny_overrides(tiny_data, tiny_bert, **{"train.bf16": True}))
    train_run(cfg, tmp_path / "bf16")
    dev = load_goemotions(tiny_data)["dev"]
    saved = np.load(tmp_path / "bf16" / "predictions" / "dev_probs.npy")
    np.testing.assert_allclose(emotag.load(tmp_path / "bf16").predict_proba(dev.texts), saved,
                               atol=1e-5)


def test_head_learning_rate_and_layerwise_decay(tiny_bert: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification, TrainingArguments

    from emotag.training.trainer import EmotagTrainer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3)
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, use_cpu=True,
                             report_to="none", weight_decay=0.01)
    trainer = EmotagTrainer(model=model, args=args, loss_fn=lambda x, y: x.sum(),
                            head_learning_rate=1e-2, layerwise_lr_decay=0.5)
    optimizer = trainer.create_optimizer()
    lr_of = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert lr_of[id(named["classifier.weight"])] == pytest.approx(1e-2)
    assert lr_of[id(named["bert.encoder.layer.1.output.dense.weight"])] == pytest.approx(1e-3)
    assert lr_of[id(named["bert.encoder.layer.0.output.dense.weight"])] == pytest.approx(5e-4)
    assert lr_of[id(named["bert.embeddings.word_embeddings.weight"])] == pytest.approx(2.5e-4)
    no_decay = [g for g in optimizer.param_groups if g["weight_decay"] == 0.0]
    assert any(id(named["bert.embeddings.LayerNorm.weight"]) in map(id, g["params"])
               for g in no_decay)


def test_rdrop_adds_the_divergence_of_two_dropout_passes(tiny_bert: Path,
                                                         tmp_path: Path) -> None:
    """In training mode R-Drop's loss is the mean of two dropout passes plus alpha x their
    divergence; without dropout both passes agree and it is the plain loss; in evaluation
    (dev loss) it is the plain one-pass loss."""
    import torch
    from transformers import AutoModelForSequenceClassification, TrainingArguments

    from emotag.training.losses import rdrop_divergence
    from emotag.training.trainer import EmotagTrainer

    def trainer(model: torch.nn.Module, alpha: float) -> EmotagTrainer:
        args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
        return EmotagTrainer(model=model, args=args, rdrop_alpha=alpha,
                             loss_fn=torch.nn.functional.binary_cross_entropy_with_logits)

    torch.manual_seed(0)
    inputs = {"input_ids": torch.randint(5, 20, (4, 6)),
              "attention_mask": torch.ones(4, 6, dtype=torch.long),
              "labels": (torch.rand(4, 3) < 0.5).float()}
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_bert, num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model.train()
    plain = trainer(model, 0.0).compute_loss(model, inputs)
    assert torch.isclose(trainer(model, 5.0).compute_loss(model, inputs), plain, atol=1e-6)

    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3,
                                                               hidden_dropout_prob=0.3)
    model.train()
    rdrop = trainer(model, 2.0)  # the Trainer seeds torch: draw the masks after it
    torch.manual_seed(1)
    loss, outputs = rdrop.compute_loss(model, inputs, return_outputs=True)
    assert outputs.logits.shape == (4, 3)
    torch.manual_seed(1)  # the same two dropout masks, drawn by hand
    doubled = model(**{k: torch.cat([v, v]) for k, v in inputs.items() if k != "labels"})
    a, b = doubled.logits.chunk(2)
    y = inputs["labels"]
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = 0.5 * (bce(a, y) + bce(b, y)) + 2.0 * rdrop_divergence(a, b)
    assert rdrop_divergence(a, b) > 0
    assert torch.isclose(loss, expected, atol=1e-6)
    model.eval()
    assert torch.isclose(trainer(model, 2.0).compute_loss(model, inputs),
                         trainer(model, 0.0).compute_loss(model, inputs))


def test_freeze_lower_layers_stops_their_gradients(tiny_bert: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    from emotag.training.trainer import freeze_lower_layers

    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3)
    frozen = freeze_lower_layers(model, 1)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert frozen > 0
    assert not any(n.startswith("bert.embeddings") for n in trainable)
    assert not any(".layer.0." in n for n in trainable)
    assert any(".layer.1." in n for n in trainable)
    assert "classifier.weight" in trainable
    assert freeze_lower_layers(model, 0) == 0


def test_stop_after_steps_keeps_the_schedule_and_resumes(tmp_path: Path, tiny_data: Path,
                                                         tiny_bert: Path) -> None:
    """A time budget: stop at step 4 of a 12-step schedule, then --resume with a larger
    budget continues the same trajectory as an uninterrupted run."""
    base = tiny_overrides(tiny_data, tiny_bert, **{"train.eval_each_epoch": False})
    whole = tmp_path / "whole"
    train_run(load_config(None, base), whole)
    part = tmp_path / "part"
    train_run(load_config(None, [*base, "train.stop_after_steps=4"]), part)
    log = json.loads((part / "run_log.json").read_text())
    steps = [e["step"] for e in log["log_history"] if "loss" in e]
    assert max(steps) == 4
    lr_part = {e["step"]: e["learning_rate"] for e in log["log_history"] if "loss" in e}
    lr_whole = {e["step"]: e["learning_rate"] for e in json.loads(
        (whole / "run_log.json").read_text())["log_history"] if "loss" in e}
    assert lr_part[4] == pytest.approx(lr_whole[4])  # same 12-step schedule
    assert log["stopped_early"] and (part / "checkpoints").is_dir()  # kept to train on
    train_run(load_config(None, base), part, resume=True)
    assert not (part / "checkpoints").exists()
    np.testing.assert_allclose(np.load(part / "predictions" / "dev_probs.npy"),
                               np.load(whole / "predictions" / "dev_probs.npy"), atol=1e-5)


def test_eval_each_epoch_changes_what_is_logged_not_the_model(tmp_path: Path, tiny_data: Path,
                                                             tiny_bert: Path) -> None:
    """Evaluating draws from torch's global RNG; without the evaluations the same draw is
    made at each epoch's end, so the two runs train the same model (2 epochs, dropout on)."""
    base = tiny_overrides(tiny_data, tiny_bert, **{"train.max_steps": -1, "train.epochs": 2})
    probs = {}
    for evaluated in (True, False):
        out = tmp_path / f"eval-{evaluated}"
        train_run(load_config(None, [*base, f"train.eval_each_epoch={evaluated}"]), out)
        log = json.loads((out / "run_log.json").read_text())["log_history"]
        assert any("eval_loss" in e for e in log) is evaluated
        probs[evaluated] = np.load(out / "predictions" / "dev_probs.npy")
    np.testing.assert_array_equal(probs[True], probs[False])


@pytest.mark.parametrize("setting", ["train.aux_group_weight", "train.group_loss_weight"])
def test_group_training_saves_a_plain_label_model(tmp_path: Path, tiny_data: Path,
                                                  tiny_bert: Path, setting: str) -> None:
    """train.aux_group_weight: the head trains with 28 + 11 outputs (Ekman and sentiment
    groups), cut before saving; train.group_loss_weight: only the loss changes. Either way
    the saved model has the 28 labels only, scored as it was evaluated."""
    from emotag.data.datasets import load_goemotions
    from emotag.labels import GOEMOTIONS_LABELS

    cfg = load_config(None, tiny_overrides(tiny_data, tiny_bert, **{setting: 1.0}))
    train_run(cfg, tmp_path / "aux")
    hf = json.loads((tmp_path / "aux" / "transformer" / "config.json").read_text())
    assert list(hf["id2label"].values()) == list(GOEMOTIONS_LABELS)
    losses = [h["loss"] for h in json.loads(
        (tmp_path / "aux" / "run_log.json").read_text())["log_history"] if "loss" in h]
    assert losses and all(np.isfinite(losses))
    dev = load_goemotions(tiny_data)["dev"]
    saved = np.load(tmp_path / "aux" / "predictions" / "dev_probs.npy")
    assert saved.shape == (len(dev.texts), len(GOEMOTIONS_LABELS))
    np.testing.assert_allclose(emotag.load(tmp_path / "aux").predict_proba(dev.texts), saved,
                               atol=1e-5)
