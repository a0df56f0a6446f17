"""A fine-tuned encoder: ``AutoModelForSequenceClassification`` for multi-label emotions.

The config says ``problem_type="multi_label_classification"`` with ``id2label``, so a saved
model used through a plain transformers ``pipeline`` applies a sigmoid per label (not a
softmax across labels). Training runs through :class:`~emotag.training.trainer.EmotagTrainer`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import TrainConfig
from ..errors import ConfigError, ModelFormatError
from ..errors import NotFittedError as EmotagNotFittedError
from ..training import ddp
from ..utils.files import replace_dir
from .backbones import resolve_backbone
from .base import EmotionClassifier, TokenWindows, length_sorted_batches, pool_windows, sigmoid

HF_SUBDIR = "transformer"


def tokenize_split(tokenizer: Any, texts: Sequence[str], labels: np.ndarray | None,
                   max_length: int) -> Any:
    """texts (+ labels) -> a ``datasets.Dataset`` with input ids, float labels and lengths.

    No padding here: the collator pads each batch to its own longest text, and the length
    column lets the Trainer group texts of similar length into the same batch.
    """
    import datasets

    columns: dict[str, Any] = {"text": list(texts)}
    if labels is not None:
        columns["labels"] = np.asarray(labels, dtype=np.float32).tolist()
    ds = datasets.Dataset.from_dict(columns)

    def encode(batch: dict[str, list]) -> dict[str, list]:
        enc = tokenizer(batch["text"], truncation=True, max_length=max_length)
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        return enc

    return ds.map(encode, batched=True, batch_size=1000, remove_columns=["text"],
                  desc="tokenizing", keep_in_memory=True)


class TransformerClassifier(TokenWindows, EmotionClassifier):
    """Encoder + linear head fine-tuned end to end with a multi-label loss."""

    model_type = "transformer"

    def __init__(self, label_names: Sequence[str] | None = None, backbone: str = "minilm",
                 max_length: int = 128, dropout: float | None = None, pooling: str = "mean",
                 num_hidden_layers: int | None = None,
                 train_config: TrainConfig | None = None) -> None:
        self.label_names = list(label_names) if label_names else []
        self.backbone = backbone
        self.pooling = pooling
        self.max_length = max_length
        self.dropout = dropout
        self.num_hidden_layers = num_hidden_layers
        self.train_config = train_config or TrainConfig()

    # ------------------------------------------------------------------ building
    def _build(self, extra_outputs: Sequence[str] = ()) -> None:
        """Load the backbone with a fresh head: one output per label, then ``extra_outputs``
        (training-only auxiliary outputs, cut again by ``drop_auxiliary_outputs``)."""
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        path = resolve_backbone(self.backbone)
        kwargs: dict[str, Any] = {}
        if self.dropout is not None:
            kwargs["hidden_dropout_prob"] = self.dropout
        if self.num_hidden_layers is not None:  # the lowest N pretrained layers are loaded
            kwargs["num_hidden_layers"] = int(self.num_hidden_layers)
        outputs = self.label_names + list(extra_outputs)
        config = AutoConfig.from_pretrained(
            path, num_labels=len(outputs), problem_type="multi_label_classification",
            id2label=dict(enumerate(outputs)),
            label2id={n: i for i, n in enumerate(outputs)}, **kwargs)
        model_cls = model_class(config.model_type, self.pooling)
        if model_cls is None:
            model_cls = AutoModelForSequenceClassification
        self.model_ = model_cls.from_pretrained(path, config=config)
        self.tokenizer_ = AutoTokenizer.from_pretrained(path)

    # ------------------------------------------------------------------ training
    def fit(self, train: Any, dev: Any | None = None, *, work_dir: Path | None = None,
            resume: bool = False, callbacks: list | None = None) -> TransformerClassifier:
        """Fine-tune on ``train``; ``dev`` gives the validation loss curve.

        Checkpoints go to ``work_dir/checkpoints`` every ``save_steps``; with ``resume`` the
        newest complete one is loaded (weights, optimizer, scheduler, RNG, data position).
        """
        from transformers import DataCollatorWithPadding, TrainingArguments, set_seed

        from ..training.group_training import (
            auxiliary_output_names,
            drop_auxiliary_outputs,
            with_group_losses,
            with_group_targets,
        )
        from ..training.losses import build_loss
        from ..training.trainer import (
            EmotagTrainer,
            SkippedEvaluationDraw,
            StopAfterSteps,
            freeze_lower_layers,
            last_complete_checkpoint,
            macro_f1_at_half,
        )

        cfg = self.train_config
        self.label_names = list(self.label_names or train.label_names)
        loss_fn, aux_groupings = with_group_losses(  # before any loading: fails early
            build_loss(cfg, np.asarray(train.labels)), cfg, self.label_names)

        def targets(labels: np.ndarray) -> np.ndarray:
            return with_group_targets(labels, aux_groupings) if aux_groupings else labels

        set_threads(cfg.num_threads)
        set_seed(cfg.seed)
        self._build(extra_outputs=auxiliary_output_names(aux_groupings))
        freeze_lower_layers(self.model_, cfg.freeze_layers)
        work_dir = Path(work_dir or "emotag-work")
        ckpt_dir = work_dir / "checkpoints"
        train_ds = tokenize_split(self.tokenizer_, train.texts, targets(train.labels),
                                  self.max_length)
        eval_ds = None
        if dev is not None and cfg.eval_each_epoch:
            eval_ds = tokenize_split(self.tokenizer_, dev.texts, targets(dev.labels),
                                     self.max_length)
        args = TrainingArguments(
            output_dir=str(ckpt_dir), seed=cfg.seed, data_seed=cfg.seed,
            num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
            per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.eval_batch_size,
            learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay,
            # transformers 5 has no warmup_ratio: warmup_steps < 1 is read as a ratio of the
            # steps, >= 1 as a step count, so TrainConfig keeps the ratio in [0, 1).
            warmup_steps=cfg.warmup_ratio, lr_scheduler_type=cfg.lr_scheduler,
            train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
            length_column_name="length", logging_steps=cfg.logging_steps,
            save_strategy="steps", save_steps=cfg.save_steps,
            save_total_limit=cfg.save_total_limit,
            eval_strategy="epoch" if eval_ds is not None else "no",
            bf16=cfg.bf16, use_cpu=not torch.cuda.is_available(), report_to="none",
            dataloader_num_workers=0, disable_tqdm=False,
        )
        trainer = EmotagTrainer(
            model=self.model_, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
            data_collator=DataCollatorWithPadding(self.tokenizer_),
            processing_class=self.tokenizer_,
            compute_metrics=partial(macro_f1_at_half, n_labels=len(self.label_names)),
            loss_fn=loss_fn, callbacks=callbacks,
            head_learning_rate=cfg.head_learning_rate,
            layerwise_lr_decay=cfg.layerwise_lr_decay, rdrop_alpha=cfg.rdrop_alpha)
        if eval_ds is None:  # same random stream as an evaluated run
            trainer.add_callback(SkippedEvaluationDraw())
        if cfg.stop_after_steps > 0:
            trainer.add_callback(StopAfterSteps(cfg.stop_after_steps))
        checkpoint = (last_complete_checkpoint(ckpt_dir, remove_incomplete=ddp.is_main_process())
                      if resume else None)
        result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        self.model_ = trainer.model
        if aux_groupings:
            drop_auxiliary_outputs(self.model_, self.label_names)
        self.model_.eval()
        self.log_history_ = list(trainer.state.log_history)
        self.train_runtime_s_ = float(result.metrics.get("train_runtime", 0.0))
        self.resumed_from_ = str(checkpoint) if checkpoint else None
        # stopped by train.stop_after_steps before the schedule's end: resumable later
        self.stopped_early_ = trainer.state.global_step < trainer.state.max_steps
        return self

    # ------------------------------------------------------------------ inference
    def _fitted_model(self) -> Any:
        if not hasattr(self, "model_"):
            raise EmotagNotFittedError("TransformerClassifier is not fitted; call fit or load")
        return self.model_

    def _forward_rows(self, texts: list[str], width: int, batch_size: int | None,
                      forward: Callable[[Any], torch.Tensor], progress: bool = False
                      ) -> tuple[np.ndarray, np.ndarray]:
        """``forward`` over padded batches of similar length: one ``width``-wide row per
        encoded row (window), in input order, and each row's text index (``owner``)."""
        self._fitted_model().eval()
        if not texts:
            return np.zeros((0, width), dtype=np.float32), np.zeros(0, dtype=np.int64)
        enc, owner = self.encode_texts(texts)
        out = np.zeros((len(owner), width), dtype=np.float32)
        size = batch_size or self.train_config.eval_batch_size
        batches = length_sorted_batches(enc, list(enc.keys()), size)
        if progress:  # only then: a rich Progress costs time on every served request
            from rich.progress import track

            batches = track(batches, description="embedding", total=-(-len(owner) // size))
        for idx, features in batches:
            batch = self.tokenizer_.pad(features, return_tensors="pt")
            out[idx] = forward(batch).float().cpu().numpy()
        return out, owner

    @torch.inference_mode()
    def predict_logits(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Raw logits, batched by length (fewer pad tokens), returned in input order.

        Long texts are cut at ``max_length`` tokens, or scored by windows (max-pooled) when
        ``window_overlap`` is set.
        """
        texts = self.prepared(texts)
        rows, owner = self._forward_rows(texts, len(self.label_names), batch_size,
                                         lambda batch: self.model_(**batch).logits)
        return pool_windows(rows, owner, len(texts))

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        return sigmoid(self.predict_logits(texts, batch_size))

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], batch_size: int | None = None,
              progress: bool = False) -> np.ndarray:
        """(n_texts, hidden) float32: the pooled encoder state the head reads (masked mean of
        the last layer, or its [CLS] state for ``pooling='cls'``), in input order.

        What a nearest-neighbour member (:class:`~emotag.models.knn.KnnClassifier`) compares.
        With windows on, a text gets the mean of its windows' states. ``progress`` shows a
        rich progress bar over the batches (embedding GoEmotions' training set takes minutes).
        """
        from .modeling_emotag import masked_mean

        def pooled(batch: Any) -> torch.Tensor:
            hidden = self.model_.base_model(**batch).last_hidden_state
            if self.pooling == "mean":
                return masked_mean(hidden, batch.get("attention_mask"))
            return hidden[:, 0]

        texts = [texts] if isinstance(texts, str) else list(texts)
        width = int(self._fitted_model().config.hidden_size)
        rows, owner = self._forward_rows(texts, width, batch_size, pooled, progress)
        return pool_windows(rows, owner, len(texts), how="mean")

    # ------------------------------------------------------------------ persistence
    def save_backend(self, model_dir: Path) -> dict[str, Any]:
        """Hugging Face format (safetensors + config + tokenizer), written to a temp folder
        and renamed, so an interrupted save never leaves a half model."""
        import shutil

        tmp = Path(model_dir) / f".{HF_SUBDIR}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        self.model_.save_pretrained(tmp)
        self.tokenizer_.save_pretrained(tmp)
        replace_dir(tmp, Path(model_dir) / HF_SUBDIR)
        return {"transformer": {"backbone": self.backbone, "max_length": self.max_length,
                                "pooling": self.pooling}}

    @classmethod
    def load_backend(cls, model_dir: Path, manifest: dict[str, Any],
                     **options: Any) -> TransformerClassifier:
        """Rebuild from ``transformer/``; ``num_threads`` sets torch's intra-op threads,
        which are process-wide (torch has no per-model thread pool)."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        src = Path(model_dir) / HF_SUBDIR
        if not (src / "config.json").is_file():
            raise ModelFormatError(f"{src}: no Hugging Face model (config.json missing)")
        info = manifest.get("transformer", {})
        pooling = info.get("pooling", "cls")
        model = cls(label_names=manifest["label_names"], backbone=info.get("backbone", str(src)),
                    max_length=int(info.get("max_length", 128)), pooling=pooling)
        hf_type = json.loads((src / "config.json").read_text(encoding="utf-8"))["model_type"]
        model_cls = model_class(hf_type, pooling) or AutoModelForSequenceClassification
        model.model_ = model_cls.from_pretrained(src, use_safetensors=True)
        model.model_.eval()
        model.tokenizer_ = AutoTokenizer.from_pretrained(src)
        if options.get("num_threads"):
            set_threads(int(options["num_threads"]))
        return model


def model_class(hf_model_type: str, pooling: str) -> type | None:
    """emotag's mean-pooling class for this architecture; None means the stock Auto class."""
    if pooling == "cls":
        return None
    from .modeling_emotag import MEAN_POOL_CLASSES

    if hf_model_type not in MEAN_POOL_CLASSES:
        raise ConfigError(f"pooling='mean' supports {sorted(MEAN_POOL_CLASSES)} encoders, not "
                          f"{hf_model_type!r}; set model.pooling=cls")
    return MEAN_POOL_CLASSES[hf_model_type]


def set_threads(num_threads: int | None) -> None:
    """torch intra-op threads: the given number, else every core this process may use,
    shared with the other processes of a distributed launch on this machine (two DDP ranks
    with all cores each would oversubscribe the CPU)."""
    n = num_threads or max(1, len(os.sched_getaffinity(0)) // ddp.local_world_size())
    torch.set_num_threads(max(1, n))
