#!/usr/bin/env python
"""Print the docs/results.md row of a run folder (numbers straight from its JSON files).

    python scripts/ledger_row.py runs/minilm [--name "MiniLM mean-pool"] [--command "..."]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--name", default=None)
    ap.add_argument("--command", default=None)
    a = ap.parse_args()
    metrics = json.loads((a.run / "metrics.json").read_text())
    log_path = a.run / "run_log.json"
    log = json.loads(log_path.read_text()) if log_path.is_file() else {}
    cells = [a.name or a.run.name, f"`{a.command}`" if a.command else "",
             (log.get("commit") or "")[:12]]
    total = log.get("timings", {}).get("total_s")
    cells.append(f"{total / 60:.1f} min" if total else "")
    for split in ("dev", "test"):
        t = metrics["splits"][split]["tuned"]["averages"]
        cells += [f"{t['macro']['f1']:.4f}", f"{t['micro']['f1']:.4f}"]
    g = metrics["splits"]["test"]["tuned"].get("groupings", {})
    cells += [f"{g[k]['averages']['macro']['f1']:.4f}" if k in g else "" for k in
              ("ekman", "sentiment")]
    print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
