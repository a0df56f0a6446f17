"""The Hugging Face Trainer, with emotag's loss and crash-safe resuming.

``EmotagTrainer`` overrides ``compute_loss`` only; everything else (length-grouped batches,
checkpoints, RNG state, progress bar with ETA, bf16 autocast) is the stock Trainer.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

from .losses import LossFn, rdrop_divergence

REQUIRED_CHECKPOINT_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """Length-grouped batches whose order comes from ``(seed, epoch)`` alone.

    The stock sampler draws its permutation from torch's global RNG at the start of each
    epoch; after ``--resume`` into a later epoch that RNG is in another state, so the resumed
    run saw the data in a different order than an uninterrupted one (measured: scores off by
    up to 0.04 on a 3-epoch probe). Seeding from the epoch makes the order a function of the
    configuration, so a resumed run replays exactly.

    Under DDP (``accelerate launch``/``torchrun``) this sampler is not sharded by itself: the
    Trainer (transformers 5) builds one DataLoader per rank over it and
    ``accelerator.prepare`` wraps its batch sampler in ``BatchSamplerShard``, which hands
    per-device batch ``i`` of the common index order to rank ``i % world_size``. That is
    correct only if every rank draws the same order, which the ``(seed, epoch)`` generator
    guarantees (the stock sampler's global-RNG draw does not). ``batch_size`` here is the
    grouping unit: the Trainer passes the global batch (per device x accumulation x
    processes), so ``n`` processes at batch ``b`` see exactly the global batches that one
    process sees at batch ``n * b``.
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int,
                 epoch_fn: Callable[[], int]) -> None:
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.epoch_fn = epoch_fn

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.seed + 1_000_003 * self.epoch_fn())
        return iter(get_length_grouped_indices(self.lengths, self.batch_size,
                                               generator=generator))


class EmotagTrainer(Trainer):
    """A Trainer whose loss is a setting (BCE, weighted BCE, focal, asymmetric), optionally
    with R-Drop's consistency term (``rdrop_alpha`` > 0).

    Labels are float multi-hot vectors; logits are cast to float32 before the loss so bf16
    autocast never degrades the loss computation.
    """

    def __init__(self, *args: Any, loss_fn: LossFn, head_learning_rate: float | None = None,
                 layerwise_lr_decay: float = 1.0, rdrop_alpha: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn
        self.head_learning_rate = head_learning_rate
        self.layerwise_lr_decay = layerwise_lr_decay
        self.rdrop_alpha = rdrop_alpha

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        if self.args.train_sampling_strategy != "group_by_length":
            return super()._get_train_sampler(train_dataset)
        # The Trainer drops unused columns (our "length") before building the sampler; the
        # rows are the same, so read the lengths from the dataset we were given.
        source = self.train_dataset
        column = self.args.length_column_name
        if column in getattr(source, "column_names", []):
            lengths = list(source[column])
        else:
            lengths = [len(ids) for ids in (train_dataset or source)["input_ids"]]
        # state.epoch is e.0 when epoch e starts, and e.x inside it after a resume. Group by
        # the global batch: the ranks split the sampler's order into per-device batches
        # round-robin (see the sampler's docstring), so the processes of one step share one
        # length group, and the global batches equal a one-process run's at the same total
        return EpochSeededLengthGroupedSampler(
            self.args.train_batch_size * self.args.gradient_accumulation_steps
            * max(1, self.args.world_size),
            lengths=lengths,
            seed=self.args.data_seed if self.args.data_seed is not None else self.args.seed,
            epoch_fn=lambda: int((self.state.epoch or 0.0) + 1e-6))

    def learning_rate_for(self, name: str, n_layers: int) -> float:
        """The head (pooler + classifier) may learn faster than the pretrained body; with
        layer-wise decay each encoder layer below the top learns ``decay`` times slower."""
        base = self.args.learning_rate
        if name.startswith("classifier") or ".pooler." in name or name.startswith("pooler"):
            return self.head_learning_rate or base
        match = re.search(r"\.layers?\.(\d+)\.", name)
        depth = n_layers - int(match.group(1)) - 1 if match else n_layers  # embeddings: bottom
        return base * self.layerwise_lr_decay**depth

    def create_optimizer(self, model: torch.nn.Module | None = None) -> torch.optim.Optimizer:
        if self.optimizer is not None or (self.head_learning_rate is None
                                          and self.layerwise_lr_decay == 1.0):
            return super().create_optimizer(model)
        model = model or self.model
        n_layers = int(getattr(model.config, "num_hidden_layers", 0))
        decay = set(self.get_decay_parameter_names(model))
        groups: dict[tuple[float, float], list[torch.nn.Parameter]] = {}
        for name, param in model.named_parameters():
            if param.requires_grad:
                key = (self.learning_rate_for(name, n_layers),
                       self.args.weight_decay if name in decay else 0.0)
                groups.setdefault(key, []).append(param)
        self.optimizer = torch.optim.AdamW(
            [{"params": ps, "lr": lr, "weight_decay": wd} for (lr, wd), ps in groups.items()],
            lr=self.args.learning_rate, betas=(self.args.adam_beta1, self.args.adam_beta2),
            eps=self.args.adam_epsilon)
        return self.optimizer

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any],
                     return_outputs: bool = False,
                     num_items_in_batch: torch.Tensor | int | None = None) -> Any:
        inputs = dict(inputs)
        labels = inputs.pop("labels").float()
        if self.rdrop_alpha > 0 and model.training:
            # R-Drop: the batch twice in one forward pass (two dropout masks, one set of
            # kernels); the first half's outputs stand for the batch.
            outputs = model(**{k: torch.cat([v, v]) for k, v in inputs.items()})
            first, second = outputs.logits.float().chunk(2)
            loss = (0.5 * (self.loss_fn(first, labels) + self.loss_fn(second, labels))
                    + self.rdrop_alpha * rdrop_divergence(first, second))
            outputs.logits = outputs.logits[: len(labels)]
        else:
            outputs = model(**inputs)
            loss = self.loss_fn(outputs.logits.float(), labels)
        return (loss, outputs) if return_outputs else loss


class StopAfterSteps(TrainerCallback):
    """End training at ``step`` (saving a checkpoint there) while the learning-rate schedule
    keeps the length of the full run: a time budget that can be raised later with --resume
    to continue the very same trajectory."""

    def __init__(self, step: int) -> None:
        self.step = int(step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if state.global_step >= self.step:
            control.should_training_stop = True
            control.should_save = True
        return control


class SkippedEvaluationDraw(TrainerCallback):
    """Without per-epoch evaluation, advance torch's global RNG as the evaluation would have.

    Why: evaluating draws from the global generator (each DataLoader iteration takes its base
    seed there), so turning ``train.eval_each_epoch`` off would shift every later dropout
    mask and train another model (measured: dev scores 1.3e-3 to 1.5e-3 apart). Making the same
    draw at each epoch's end, where the Trainer evaluates, turns the setting into a logging
    switch: a run without the evaluations retraces the evaluated one exactly (tested) and
    saves their time (about a minute per mpnet epoch on 2 cores).
    """

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        iter(torch.utils.data.DataLoader([0]))  # the draw an evaluation's DataLoader makes
        return control


def freeze_lower_layers(model: torch.nn.Module, n_layers: int) -> int:
    """Stop gradients into the embeddings and the ``n_layers`` lowest encoder layers.

    Why: on a CPU the backward pass is two thirds of a step; a bert-base body with its lower
    half frozen trains about twice as fast and keeps most of the quality. Returns the number of
    parameters frozen. Parameters shared by every layer (mpnet's relative attention bias) are
    frozen too, as part of the embeddings.
    """
    if n_layers <= 0:
        return 0
    frozen = 0
    for name, param in model.named_parameters():
        if name.startswith("classifier") or ".pooler." in name or name.startswith("pooler"):
            continue
        match = re.search(r"\.layers?\.(\d+)\.", name)
        if match is None or int(match.group(1)) < n_layers:
            param.requires_grad_(False)
            frozen += param.numel()
    return frozen


def last_complete_checkpoint(checkpoint_dir: Path, remove_incomplete: bool = True
                             ) -> Path | None:
    """Newest ``checkpoint-N`` whose files were all written.

    The Trainer writes ``trainer_state.json`` last; a folder without it (or without the
    optimizer state) was interrupted mid-save by a crash or ``kill -9``, and is removed so
    that resuming never loads half a checkpoint. Under DDP only rank 0 removes
    (``remove_incomplete=False`` elsewhere): every rank picks the same checkpoint, one deletes.
    """
    checkpoint_dir = Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return None
    found = []
    for path in checkpoint_dir.glob("checkpoint-*"):
        suffix = path.name.rsplit("-", 1)[-1]
        if not suffix.isdigit():
            continue
        if all((path / f).is_file() for f in REQUIRED_CHECKPOINT_FILES) and _state_ok(path):
            found.append((int(suffix), path))
        elif remove_incomplete:
            shutil.rmtree(path, ignore_errors=True)
    return max(found)[1] if found else None


def _state_ok(path: Path) -> bool:
    try:
        json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        return True
    except (OSError, json.JSONDecodeError):
        return False


def macro_f1_at_half(eval_pred: Any, n_labels: int | None = None) -> dict[str, float]:
    """``compute_metrics`` for the Trainer: dev macro/micro-F1 at 0.5 after each epoch, on
    the first ``n_labels`` outputs (the labels, not training-only auxiliary outputs)."""
    from sklearn.metrics import f1_score

    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if n_labels is not None:
        logits, labels = logits[:, :n_labels], labels[:, :n_labels]
    pred = (logits > 0).astype(np.uint8)  # sigmoid(x) >= 0.5  <=>  x >= 0
    y = labels.astype(np.uint8)
    return {"macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
            "micro_f1": float(f1_score(y, pred, average="micro", zero_division=0))}
