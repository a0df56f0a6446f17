"""The out-of-domain suite in one table: zero-shot and adapted, next to GoEmotions test.

For each file of the ood-dev suite (``../shared/data/ood-dev``: dialogue, tweets, headlines,
event reports; Ekman labels; read its README) and their mean: macro-F1 in Ekman space over the
emotions each file has (``neutral`` left out, as in the suite's reference numbers), with 95%
bootstrap intervals (rows resampled, 1,000 times):

- zero-shot: the model as it is, on the whole file;
- adapted: ``emotag adapt`` fitted on ``--rows`` (200) rows and scored on the rest, for
  ``--draws`` (5) draws; draw d shuffles the rows with ``numpy.random.default_rng(d)`` and
  fits on the first 200 (:func:`emotag.evaluation.ood.adapted_runs`). The interval is the
  mean of the draws' intervals; "base, same rows" is the zero-shot model on those rows.

Also: recall per Ekman group pooled over the four files, GoEmotions test (macro-F1 over the
28 labels and Ekman macro-F1) and the behavioural suite's pass rate per capability
(``tests/checklist/cases.jsonl``). Never trains on a row it scores. The suite's files are
not part of the repository (two are non-commercial); without them the benchmark says so and
exits 0.

    python benchmarks/bench_ood.py                       # the shipped model
    python benchmarks/bench_ood.py --model runs/x --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import emotag
from emotag.data.datasets import load_goemotions
from emotag.evaluation.checklist import read_cases, run_checklist
from emotag.evaluation.ood import adapted_runs, read_taxonomy_file, score_decisions

ROOT = Path(__file__).resolve().parents[1]
SUITE = ("dailydialog", "emoevent_en", "goodnewseveryone", "enisear")
EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise")


def suite_dir() -> Path | None:
    for candidate in (os.environ.get("EMOTAG_OOD_DIR"), ROOT.parent / "shared/data/ood-dev",
                      Path("/work/shared/data/ood-dev")):
        if candidate and (Path(candidate) / f"{SUITE[0]}.tsv").is_file():
            return Path(candidate)
    return None


def fmt(result: dict) -> str:
    low, high = result.get("macro_f1_interval", (np.nan, np.nan))
    return f"{result['macro_f1']:.3f} [{low:.3f}, {high:.3f}]"


def pooled_recall(results: list[dict]) -> dict[str, float]:
    """Recall per group over all files' rows (true positives / support, summed)."""
    out = {}
    for name in EMOTIONS:
        tp = sum(r["per_label"][name]["recall"] * r["per_label"][name]["support"]
                 for r in results if name in r["per_label"])
        n = sum(r["per_label"][name]["support"] for r in results if name in r["per_label"])
        out[name] = tp / n if n else float("nan")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="model folder (default: shipped)")
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=None, help="also write every number here")
    args = ap.parse_args()
    folder = suite_dir()
    if folder is None:
        print("ood-dev suite not found (../shared/data/ood-dev or $EMOTAG_OOD_DIR); skipped")
        return 0
    predictor = emotag.load(args.model)
    t0 = time.perf_counter()
    report: dict = {"model": str(predictor.path), "rows": args.rows, "draws": args.draws,
                    "files": {}}
    print(f"model: {predictor.path}\n")
    print(f"{'file':18} {'rows':>5}  {'zero-shot':>22}  {'adapted':>22}  base, same rows")
    zero_all, adapted_all = [], []
    for name in SUITE:
        rows = read_taxonomy_file(predictor, folder / f"{name}.tsv", "ekman")
        probs = predictor.predict_proba(rows.texts)
        scores, names, cuts = predictor.decision_view(probs, "ekman")
        zero = score_decisions(rows.y, scores >= cuts, names, exclude=("neutral",),
                               bootstrap=args.bootstrap)
        adapted = adapted_runs(predictor, rows, "ekman", n_rows=args.rows, draws=args.draws,
                               exclude=("neutral",), bootstrap=args.bootstrap, probs=probs)
        zero_all.append(zero)
        adapted_all.append(adapted)
        report["files"][name] = {"zero_shot": zero, "adapted": adapted}
        print(f"{name:18} {len(rows.texts):5}  {fmt(zero):>22}  {fmt(adapted):>22}  "
              f"{adapted['base_macro_f1_same_rows']:.3f}", flush=True)
    mean = {key: {"macro_f1": float(np.mean([r["macro_f1"] for r in results])),
                  "macro_f1_interval": [float(np.mean([r["macro_f1_interval"][i]
                                                       for r in results])) for i in (0, 1)]}
            for key, results in (("zero_shot", zero_all), ("adapted", adapted_all))}
    report["mean"] = mean
    print(f"{'mean':18} {'':5}  {fmt(mean['zero_shot']):>22}  {fmt(mean['adapted']):>22}")
    recall = {"zero_shot": pooled_recall(zero_all), "adapted": pooled_recall(adapted_all)}
    report["pooled_recall"] = recall
    print("\npooled recall   " + "  ".join(f"{n:>8}" for n in EMOTIONS))
    for key, values in recall.items():
        print(f"{key:15} " + "  ".join(f"{values[n]:8.3f}" for n in EMOTIONS))

    test = load_goemotions()["test"]
    probs = predictor.predict_proba(test.texts)
    go = {}
    for taxonomy in ("goemotions", "ekman"):
        scores, names, cuts = predictor.decision_view(probs, taxonomy)
        y = test.labels if taxonomy == "goemotions" else read_group_targets(test, names)
        go[taxonomy] = score_decisions(y, scores >= cuts, names, bootstrap=args.bootstrap)
    report["goemotions_test"] = go
    print(f"\nGoEmotions test ({len(test)} texts): macro-F1 {fmt(go['goemotions'])}, "
          f"Ekman macro-F1 {fmt(go['ekman'])}")

    checklist = run_checklist(predictor, read_cases(ROOT / "tests/checklist/cases.jsonl"))
    report["checklist"] = checklist
    print(f"\nbehavioural suite: {checklist['passed']}/{checklist['cases']} "
          f"({checklist['pass_rate']:.0%})")
    for cap, v in checklist["capabilities"].items():
        print(f"  {cap:22} {v['passed']:2}/{v['cases']:2}  {v['pass_rate']:.0%}")
    print(f"\n{time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float), encoding="utf-8")
    return 0


def read_group_targets(split: object, names: list[str]) -> np.ndarray:
    """GoEmotions targets mapped onto the groups ``names`` (a group is on when any member is)."""
    from emotag.labels import group_matrix

    grouped, all_names = group_matrix(split.labels, split.label_names, "ekman")
    return grouped[:, [all_names.index(n) for n in names]]


if __name__ == "__main__":
    sys.exit(main())
