#!/usr/bin/env python
"""One process vs two DDP processes at the same global batch: do the loss curves agree?

Trains the same config twice with the same seed, ``train.max_steps`` and global batch G:

1. one process, ``train.batch_size=G`` (``python -m emotag.cli.app train``);
2. two processes, ``train.batch_size=G/2`` each (``accelerate launch --num_processes 2``;
   ``--multi_gpu`` is passed on every machine, since on a CPU-only one accelerate starts a
   single process without it, and then picks gloo because there is no GPU).

The length-grouped sampler groups by the global batch, so step k of both runs sees the same
G texts; DDP averages the two half-batch gradients, which for a mean-reduced loss is the
full-batch gradient. The curves should therefore agree up to float rounding and dropout
masks (each rank draws its own), except at the last step of each epoch: when the epoch is
not a whole number of per-device batches per rank, accelerate completes the ranks' last
batches with rows from the start of the epoch, while one process takes a short last batch.
(Smoke run, tiny BERT, 32 = 16 x 2, 60 steps: differences of at most 0.004 except 0.01-0.02
at those epoch-end steps.) Writes, into ``--out``: both run folders,
``loss_curves.png`` (both curves, and their difference) and ``loss_curves.md`` (a table
per logged step, from each run's ``run_log.json`` log history).

    # smoke run: the tiny random BERT and tiny GoEmotions-format data of the test suite
    python experiments/scripts/ddp_loss_curve.py --tiny --out /tmp/ddp-curve
    # a real slice: MiniLM on 4,000 GoEmotions training texts, 32 = 16 x 2
    python experiments/scripts/ddp_loss_curve.py --config configs/minilm.yaml --global-batch 32 \\
        --steps 200 --set data.max_train_samples=4000 --out runs/ddp-curve
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tiny(folder: Path) -> list[str]:
    """The test suite's tiny data (tests/conftest.py) and a 2-layer random BERT; returns the
    ``--set`` overrides that train on them."""
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import build_tiny_bert, write_goemotions_folder

    data = write_goemotions_folder(folder / "data", {"train": 400, "dev": 60, "test": 60})
    bert = build_tiny_bert(folder / "tiny-bert")
    return [f"data.data_dir={data}", f"model.backbone={bert}", "model.max_length=32",
            "train.learning_rate=5e-3", "train.warmup_ratio=0.0", "train.eval_batch_size=64",
            "train.bf16=false"]


def train(out: Path, config: Path | None, sets: list[str], processes: int) -> None:
    if processes == 1:
        cmd = [sys.executable, "-m", "emotag.cli.app"]
    else:
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
               "--num_processes", str(processes), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), "-m", "emotag.cli.app"]
    cmd += ["train", "--output", str(out)]
    if config is not None:
        cmd += ["--config", str(config)]
    for s in sets:
        cmd += ["--set", s]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                        "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    print("+", " ".join(cmd), flush=True)
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"training failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
                 f"{result.stderr[-5000:]}")


def curve(run: Path, key: str = "loss") -> dict[int, float]:
    """step -> logged ``key`` from a run's ``run_log.json`` log history."""
    log = json.loads((run / "run_log.json").read_text(encoding="utf-8"))
    return {int(e["step"]): float(e[key]) for e in log["log_history"] if key in e}


def write_outputs(out: Path, runs: dict[str, Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(runs)
    train_curves = {n: curve(p) for n, p in runs.items()}
    eval_curves = {n: curve(p, "eval_loss") for n, p in runs.items()}
    steps = sorted(set.intersection(*(set(c) for c in train_curves.values())))
    a, b = (train_curves[n] for n in names)
    diffs = [b[s] - a[s] for s in steps]

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    for name, marker in zip(names, ("o", "x"), strict=True):
        c = train_curves[name]
        top.plot(steps, [c[s] for s in steps], marker=marker, markersize=3, label=name)
    top.set_ylabel("training loss")
    top.set_title("same seed, same global batch: 1 process vs 2 DDP processes")
    top.legend()
    bottom.plot(steps, diffs, color="gray")
    bottom.axhline(0.0, color="black", linewidth=0.5)
    bottom.set_ylabel(f"({names[1]}) - ({names[0]})", fontsize=8)
    bottom.set_xlabel("optimizer step")
    fig.tight_layout()
    fig.savefig(out / "loss_curves.png", dpi=120)

    lines = ["| step | " + " | ".join(f"loss, {n}" for n in names) + " | difference |",
             "|---:|" + "---:|" * (len(names) + 1)]
    lines += [f"| {s} | {a[s]:.4f} | {b[s]:.4f} | {b[s] - a[s]:+.4f} |" for s in steps]
    eval_steps = sorted(set.intersection(*(set(c) for c in eval_curves.values())))
    if eval_steps:
        lines += ["", "| step | " + " | ".join(f"eval_loss, {n}" for n in names) + " |",
                  "|---:|" + "---:|" * len(names)]
        lines += [f"| {s} | " + " | ".join(f"{eval_curves[n][s]:.4f}" for n in names) + " |"
                  for s in eval_steps]
    worst = max(map(abs, diffs)) if diffs else float("nan")
    lines += ["", f"largest |difference| of the training loss: {worst:.4f} over {len(steps)} "
              "logged steps"]
    (out / "loss_curves.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"\nwrote {out / 'loss_curves.png'} and {out / 'loss_curves.md'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--config", type=Path, default=None, help="an emotag YAML config")
    ap.add_argument("--set", dest="sets", action="append", default=[],
                    help="extra group.key=value overrides (repeatable)")
    ap.add_argument("--tiny", action="store_true",
                    help="smoke run: tiny random BERT and tiny data, built in --out")
    ap.add_argument("--global-batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=None,
                    help="train.max_steps (default: 60 with --tiny, else the config's epochs)")
    ap.add_argument("--logging-steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    if args.global_batch % 2:
        sys.exit("--global-batch must be even (it is split over 2 processes)")
    args.out.mkdir(parents=True, exist_ok=True)
    sets = make_tiny(args.out / "tiny") if args.tiny else []
    steps = args.steps or (60 if args.tiny else None)
    sets += [f"train.seed={args.seed}", "train.save_steps=100000"]
    if steps:
        sets.append(f"train.max_steps={steps}")
    sets.append(f"train.logging_steps={args.logging_steps or (2 if args.tiny else 10)}")
    sets += args.sets
    g = args.global_batch
    runs = {f"1 x {g}": args.out / "run-1proc", f"2 x {g // 2}": args.out / "run-2proc"}
    for (name, run), (procs, batch) in zip(runs.items(), ((1, g), (2, g // 2)), strict=True):
        if (run / "run_log.json").is_file():
            print(f"{name}: reusing {run}")
            continue
        threads = max(1, len(os.sched_getaffinity(0)) // procs)
        train(run, args.config, [*sets, f"train.batch_size={batch}",
                                 f"train.num_threads={threads}"], procs)
    write_outputs(args.out, runs)


if __name__ == "__main__":
    main()
