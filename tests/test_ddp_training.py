"""``accelerate launch --num_processes 2 ... emotag train``: DDP on CPU (gloo) through the stock
Trainer, with one set of run artifacts, DDP-correct length-grouped batches and resume.

On a CPU-only machine ``accelerate launch`` needs ``--multi_gpu`` to start several processes
(it runs torchrun; without it, it starts one process unless MPI is set up); accelerate then
picks the gloo backend because there is no GPU.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from torch.utils.data import BatchSampler

import emotag
from conftest import tiny_overrides

pytest.importorskip("accelerate")

PER_DEVICE_BATCH = 8
TRAIN_ROWS = 160 + 28  # tiny_data's train split: 160 rows + one example per label


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_train(out: Path, overrides: list[str], *extra: str) -> subprocess.CompletedProcess:
    """``accelerate launch --multi_gpu --num_processes 2 -m emotag.cli.app train ...``."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
           "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(free_port()),
           "-m", "emotag.cli.app", "train", "--output", str(out), *extra]
    for o in overrides:
        cmd += ["--set", o]
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                        "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
                        "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def ddp_overrides(tiny_data: Path, tiny_bert: Path) -> list[str]:
    return tiny_overrides(tiny_data, tiny_bert, **{
        "train.batch_size": PER_DEVICE_BATCH, "train.keep_checkpoints": "true",
        "train.save_total_limit": 5})


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path,
            tiny_bert: Path) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("ddp") / "run"
    return out, launch_train(out, ddp_overrides(tiny_data, tiny_bert))


def test_two_processes_write_one_run(ddp_run: tuple[Path, subprocess.CompletedProcess],
                                     tiny_data: Path) -> None:
    from emotag.data.datasets import load_goemotions

    out, result = ddp_run
    assert sorted(p.relative_to(out) for p in out.rglob("emotag.json")) == [Path("emotag.json")]
    assert sorted(p.relative_to(out) for p in out.rglob("thresholds.json")) == [
        Path("thresholds.json")]
    # rank 1 leaves after the model is saved: one headline, one report line
    assert (result.stdout + result.stderr).count("report: ") == 1
    log = json.loads((out / "run_log.json").read_text())
    steps = [e for e in log["log_history"] if "loss" in e]
    # each rank got its own half of the batches: one epoch of 2 x 8 = 16 rows per step is
    # 12 steps (one process at batch 8 would be half-way through its epoch at step 12)
    assert steps[-1]["step"] == 12 and steps[-1]["epoch"] == pytest.approx(1.0)
    assert steps[-1]["loss"] < steps[0]["loss"]
    probs = np.load(out / "predictions" / "test_probs.npy")
    assert probs.shape == (60, 28)
    test_texts = load_goemotions(tiny_data)["test"].texts
    np.testing.assert_allclose(emotag.load(out).predict_proba(test_texts), probs, atol=1e-5)
    for step in (4, 8, 12):  # every rank wrote its RNG state into the shared checkpoints
        ckpt = out / "checkpoints" / f"checkpoint-{step}"
        assert (ckpt / "rng_state_0.pth").is_file() and (ckpt / "rng_state_1.pth").is_file()


def test_resume_under_ddp_replays_the_run(ddp_run: tuple[Path, subprocess.CompletedProcess],
                                          tmp_path: Path, tiny_data: Path,
                                          tiny_bert: Path) -> None:
    done, _ = ddp_run
    out = tmp_path / "crashed"
    (out / "checkpoints").mkdir(parents=True)
    shutil.copy(done / "train_config.json", out / "train_config.json")
    shutil.copytree(done / "checkpoints" / "checkpoint-4", out / "checkpoints" / "checkpoint-4")
    # a checkpoint cut short by the crash: no trainer_state.json, rank 0 removes it
    half = shutil.copytree(done / "checkpoints" / "checkpoint-8",
                           out / "checkpoints" / "checkpoint-8")
    (half / "trainer_state.json").unlink()
    launch_train(out, ddp_overrides(tiny_data, tiny_bert), "--resume")
    log = json.loads((out / "run_log.json").read_text())
    assert log["resumed_from"].endswith("checkpoint-4")
    np.testing.assert_allclose(np.load(out / "predictions" / "test_probs.npy"),
                               np.load(done / "predictions" / "test_probs.npy"), atol=1e-5)


def test_length_grouped_sampler_shards_by_rank(monkeypatch: pytest.MonkeyPatch,
                                               tiny_data: Path, tiny_bert: Path) -> None:
    """What accelerate does to the Trainer's sampler under DDP, in one process: each rank's
    batches are distinct, together they are the epoch, and each step's global batch is the
    one a single process sees at the same total batch size."""
    from accelerate.data_loader import BatchSamplerShard
    from transformers import TrainingArguments

    from emotag.training.trainer import EmotagTrainer, EpochSeededLengthGroupedSampler

    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 40, size=TRAIN_ROWS).tolist()
    world, per_device = 2, PER_DEVICE_BATCH
    single = list(BatchSampler(EpochSeededLengthGroupedSampler(
        per_device * world, lengths, seed=42, epoch_fn=lambda: 1), per_device * world, False))
    sampler = EpochSeededLengthGroupedSampler(per_device * world, lengths, seed=42,
                                              epoch_fn=lambda: 1)
    shards = [list(BatchSamplerShard(BatchSampler(sampler, per_device, False),
                                     num_processes=world, process_index=rank))
              for rank in range(world)]
    seen = [i for shard in shards for batch in shard for i in batch]
    assert set(shards[0][0]).isdisjoint(shards[1][0])
    assert sorted(set(seen)) == list(range(TRAIN_ROWS))
    for step, batch in enumerate(single[:-1]):  # the last global batch is padded by accelerate
        assert sorted(shards[0][step] + shards[1][step]) == sorted(batch)

    # and the Trainer groups by the global batch when it runs on `world` processes
    args = TrainingArguments(output_dir=str(tiny_data / "unused"), use_cpu=True,
                             per_device_train_batch_size=per_device, report_to="none",
                             train_sampling_strategy="group_by_length", seed=42)
    monkeypatch.setattr(TrainingArguments, "world_size", property(lambda self: world))
    trainer = EmotagTrainer.__new__(EmotagTrainer)
    trainer.args = args
    trainer.train_dataset = {"input_ids": [[0] * n for n in lengths]}
    trainer.state = type("S", (), {"epoch": 1.0})()
    built = trainer._get_train_sampler()
    assert isinstance(built, EpochSeededLengthGroupedSampler)
    assert built.batch_size == per_device * world
    assert list(built) == list(sampler)
