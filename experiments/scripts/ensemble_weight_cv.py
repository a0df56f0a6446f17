#!/usr/bin/env python
"""Do the ensemble weights chosen on the whole of dev hold up on dev rows they were not tuned on?

    python experiments/scripts/ensemble_weight_cv.py runs/minilm runs/mpnet runs/mpnet-top6 \\
        runs/tfidf --top 30

``emotag ensemble`` (default ``--select in_sample``) picks the simplex point whose
probabilities give the best dev macro-F1 with every label at its own best dev threshold:
weights and thresholds are scored on the rows they were fitted on. Here every simplex point
(or, with ``--top K``, the K best in-sample points) is scored the held-out way instead:
:class:`ThresholdTuner` (per-label, shrunk) is fitted on 4/5 of dev and macro-F1 is read on
the other fifth, 5 folds x 2 shuffles: the scores behind ``emotag ensemble --select
held_out``, as a table. Dev only; test is not read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emotag.data.datasets import load_goemotions
from emotag.training.ensembling import load_run_predictions
from emotag.training.weight_search import score_weightings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--step", type=float, default=0.1)
    ap.add_argument("--top", type=int, default=0,
                    help="Score only the K best in-sample points held out (0: all).")
    ap.add_argument("--show", type=int, default=10)
    a = ap.parse_args()
    y = load_goemotions()["dev"].labels.astype(np.uint8)
    dev = [load_run_predictions(r).dev for r in a.runs]
    points, in_sample, held = score_weightings(dev, y, a.step, held_out=a.top or None)
    best_in, best_held = int(np.argmax(in_sample)), max(held, key=held.get)
    names = " / ".join(r.name for r in a.runs)
    print(f"| weights ({names}) | in-sample dev macro-F1 | held-out dev macro-F1 |")
    print("| --- | ---: | ---: |")
    for i in sorted(held, key=held.get, reverse=True)[:a.show]:
        mark = (" (in-sample pick)" if i == best_in else "") + \
               (" (held-out pick)" if i == best_held else "")
        print(f"| {' / '.join(f'{v:g}' for v in points[i])}{mark} | {in_sample[i]:.4f} | "
              f"{held[i]:.4f} |")
    if best_in not in sorted(held, key=held.get, reverse=True)[:a.show]:
        print(f"| {' / '.join(f'{v:g}' for v in points[best_in])} (in-sample pick) | "
              f"{in_sample[best_in]:.4f} | {held.get(best_in, float('nan')):.4f} |")


if __name__ == "__main__":
    main()
