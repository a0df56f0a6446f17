"""What should ``emotag adapt`` learn? Variants of the adaptation on the ood-dev suite.

Protocol of ``bench_ood.py``: per file, draw d (0..4) shuffles the rows with
``numpy.random.default_rng(d)``; a variant is fitted on the first 200 rows and scored on the
rest (Ekman macro-F1 over the file's emotions); the table shows the mean over draws per file
and the mean over files. Variants:

- ``zero-shot``: nothing learned (the same held-out rows);
- ``group thresholds``: one threshold per group tuned on the 200 rows (the suite's "plain
  offsets" reference), on the noisy-OR group scores;
- ``bias only``: the logistic correction with its refit switched off (l2 = 1e6): a prior
  correction plus cross-validated thresholds;
- ``l2=N``: the shipped correction (offset + light refit over the label logits, balanced rows,
  cross-validated thresholds) at other regularisation strengths; 100 is the default.

    python benchmarks/bench_adapt_variants.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import emotag
from emotag.evaluation.ood import read_taxonomy_file
from emotag.inference.adapt import DEFAULT_L2, fit_adaptation, macro_f1
from emotag.inference.groups import tune_cuts

sys.path.insert(0, str(Path(__file__).parent))
from bench_ood import SUITE, suite_dir  # noqa: E402

ROWS, DRAWS = 200, 5


def main() -> int:
    folder = suite_dir()
    if folder is None:
        print("ood-dev suite not found (../shared/data/ood-dev or $EMOTAG_OOD_DIR); skipped")
        return 0
    t0 = time.perf_counter()
    predictor = emotag.load(sys.argv[1] if len(sys.argv) > 1 else None)
    data = {}
    for name in SUITE:
        rows = read_taxonomy_file(predictor, folder / f"{name}.tsv", "ekman")
        probs = predictor.predict_proba(rows.texts)
        scores, names, cuts = predictor.base_view(probs, "ekman")
        keep = [j for j, n in enumerate(names) if rows.y[:, j].any() and n != "neutral"]
        data[name] = (probs, np.asarray(scores), np.asarray(cuts), rows.y, names, keep)

    def variant(kind: str, l2: float = DEFAULT_L2):
        def decide(probs, scores, cuts, y, names, fit, rest):  # noqa: ANN001, ANN202
            if kind == "zero-shot":
                return scores[rest] >= cuts
            if kind == "group thresholds":
                tuned = cuts.copy()
                shown = y[fit].any(axis=0)
                tuned[shown] = tune_cuts(scores[fit][:, shown], y[fit][:, shown])
                return scores[rest] >= tuned
            ad = fit_adaptation(probs[fit], scores[fit], y[fit], "ekman", names,
                                predictor.labels, l2=l2)
            return ad.scores(probs[rest], scores[rest]) >= ad.cuts(cuts)
        return decide

    variants = {"zero-shot": variant("zero-shot"),
                "group thresholds": variant("group thresholds"),
                "bias only": variant("fit", 1e6),
                **{f"l2={v:g}" + (" (default)" if v == DEFAULT_L2 else ""): variant("fit", v)
                   for v in (10, 30, 100, 300, 1000)}}
    print(f"{'variant':20}" + "".join(f" {n[:11]:>11}" for n in SUITE) + "   mean")
    for label, decide in variants.items():
        per_file = []
        for probs, scores, cuts, y, names, keep in data.values():
            runs = []
            for draw in range(DRAWS):
                perm = np.random.default_rng(draw).permutation(len(y))
                fit, rest = perm[:ROWS], perm[ROWS:]
                runs.append(macro_f1(y[rest], decide(probs, scores, cuts, y, names, fit, rest),
                                     keep))
            per_file.append(float(np.mean(runs)))
        print(f"{label:20}" + "".join(f" {v:11.3f}" for v in per_file)
              + f"  {np.mean(per_file):.3f}", flush=True)
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
