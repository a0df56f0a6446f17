"""Rank helpers for ``emotag train`` under ``accelerate launch`` / ``torchrun`` (DDP).

Why: every process of a distributed launch runs the same ``emotag train`` command. Inside
``Trainer.train`` the ranks cooperate (accelerate shards the batches, DDP averages the
gradients, rank 0 writes the checkpoints); around it, emotag's own artifacts (the config copy,
the final model, thresholds, reports, predictions, ``run_log.json``) must be written once, by
global rank 0, or two ranks race on the same files. The other ranks wait until rank 0 has the
model on disk, then leave; the evaluation after training needs no collective, so rank 0 does it
alone.

The rank comes from the initialised process group when there is one, else from the
``RANK`` / ``WORLD_SIZE`` variables that torchrun (and ``accelerate launch``, which runs
torchrun) sets before the Trainer initialises the group. Without a launcher everything here
says "one process, rank 0", so the single-process path is unchanged.
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip().lstrip("-").isdigit() else default


def _initialised() -> bool:
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """How many processes train together (1 without a distributed launcher)."""
    if _initialised():
        import torch.distributed as dist

        return dist.get_world_size()
    return max(1, _env_int("WORLD_SIZE", 1))


def rank() -> int:
    """This process's global rank (0 without a distributed launcher)."""
    if _initialised():
        import torch.distributed as dist

        return dist.get_rank()
    return max(0, _env_int("RANK", 0))


def local_world_size() -> int:
    """How many processes of the launch share this machine: they share its CPU cores."""
    return max(1, _env_int("LOCAL_WORLD_SIZE", 1))


def is_main_process() -> bool:
    """True on global rank 0, the one process that writes emotag's run artifacts."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank; a no-op without an initialised process group."""
    if _initialised() and world_size() > 1:
        import torch.distributed as dist

        dist.barrier()


def finish() -> None:
    """Leave the process group (if any) so the process exits without gloo/NCCL warnings."""
    if _initialised():
        import torch.distributed as dist

        dist.destroy_process_group()
