"""Score Parquet / CSV / JSONL files on a Ray cluster (``emotag predict --engine ray``).

Why Ray Data: one process scores a few hundred texts a second per core; a corpus of tens of
millions of rows wants every core of several machines. Ray Data reads the files in parallel
(globs and folders allowed), streams blocks through a pool of actors and writes Parquet, with
bounded memory. Each actor loads the model once (``emotag.load(model_dir)``) and scores whole
batches with the same code as the single-process path, :func:`emotag.inference.batch_scoring.
score_columns`, so both engines write the same columns: the input's own columns, unchanged
(ids etc.), then ``pred_labels`` and one float32 ``score_<label>`` per label (or per group
with a taxonomy).

Resources. An actor holds ``threads_per_actor`` CPUs and runs its model with that many
threads (ONNX Runtime intra-op threads, or torch's); by default one thread per actor and one
actor per CPU (more replicas rather than more threads per replica: replicas never wait for
each other, threads within one model call do).
Ray Data lists, reads and writes files with ordinary tasks that each need one free CPU slot;
actors holding every slot starve them and the job hangs (ray-project/ray#44687). So one CPU
slot is always left to them: a local Ray started here gets ``actors x threads + 1`` logical
CPUs (the extra slot is scheduling room, not a thread), and on an existing cluster the pool
may take at most all CPUs but one.

Order and reproducibility. Output files sort (by name) in input order, and rows within them
keep the input order. fp32 models (PyTorch, ONNX fp32, TF-IDF) give every text the same scores
whatever it is batched with, so the Ray output equals the single-process output to float
rounding. Dynamically quantised int8 ONNX models do not: activations are quantised with one
scale per batch, so a text's scores move with its batch-mates (measured on ``models/default``:
up to 0.18, mean 0.0025, between chunks of 1,000 and 300). The dataset is therefore cut
into blocks of exactly ``batch_size`` consecutive rows and each block is one model call, so
for a single input file the batches are rows ``[k*B, (k+1)*B)``, the same groups as the
single-process path's ``--chunk-size B`` chunks when its reader yields whole chunks (a
Parquet file whose row groups are multiples of B; CSV/JSONL), and int8 scores agree too.
With several input files the batches run on across file boundaries.

A cluster's workers need emotag (``pip install "emotag[ray]"``) and must see the model folder,
the input files and the output folder at the same paths (a shared file system; inputs may
also be object-store URIs such as ``s3://``).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, EmotagError, MissingDependencyError
from ..models.base import read_manifest
from .batch_scoring import PRED_COLUMN, check_no_clash, output_column_names, score_columns
from .groups import output_names
from .ray_io import (
    check_text_column,
    count_rows,
    expand_inputs,
    ordered_parquet_sink,
    read_dataset,
)
from .streaming import DEFAULT_CHUNK_SIZE

INSTALL_HINT = 'pip install "emotag[ray]"'
#: rows per ``map_batches`` call; the single-process path's default chunk size, so that both
#: engines score the same groups of texts (see the module docstring)
DEFAULT_BATCH_SIZE = DEFAULT_CHUNK_SIZE
#: CPU slots kept free for Ray Data's list/read/write tasks (ray-project/ray#44687)
IO_CPU_SLOTS = 1
#: the last line of a worker's traceback when an emotag error stopped it
_ERROR_LINE = re.compile(r"^emotag\.errors\.(\w+): (.+)$")


def import_ray() -> Any:
    """The ``ray`` module with Ray Data, or a MissingDependencyError naming the pip command."""
    try:
        import ray
        import ray.data  # noqa: F401 - the extra is ray[data], not bare ray
    except ImportError as e:
        raise MissingDependencyError(f"--engine ray needs Ray Data: {INSTALL_HINT}") from e
    return ray


@dataclass
class RayScoringResult:
    """What :func:`score_files` did."""

    output: Path
    rows: int                 #: rows written (all files)
    files: list[Path]         #: the Parquet files written, in input order
    seconds: float            #: wall time, Ray start-up included
    startup_s: float          #: of which starting (or connecting to) Ray
    num_actors: int
    threads_per_actor: int
    cluster: str              #: "local (N CPUs)" or the address connected to
    inputs: list[str] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


# =========================================================================== planning
def plan_pool(cpus: int, num_actors: int | None, threads_per_actor: int | None
              ) -> tuple[int, int]:
    """``(actors, threads per actor)`` for ``cpus`` compute CPUs.

    Neither given: one single-threaded actor per CPU. One given: the other fills the CPUs
    (``threads = cpus // actors``, at least 1).
    """
    cpus = max(1, int(cpus))
    for name, value in (("num_actors", num_actors), ("threads_per_actor", threads_per_actor)):
        if value is not None and int(value) < 1:
            raise ConfigError(f"{name}={value}; expected 1 or more")
    if num_actors is None and threads_per_actor is None:
        return cpus, 1
    if threads_per_actor is None:
        return int(num_actors), max(1, cpus // int(num_actors))
    if num_actors is None:
        return max(1, cpus // int(threads_per_actor)), int(threads_per_actor)
    return int(num_actors), int(threads_per_actor)


def output_labels(model_dir: Path, taxonomy: str) -> list[str]:
    """The names behind the ``score_<name>`` columns, read from the model's ``emotag.json``
    (the driver never loads the model: only the actors do)."""
    return output_names(read_manifest(model_dir)["label_names"], taxonomy)


# =========================================================================== the actor
class BatchScorer:
    """The actor of the pool: one model per actor, a pyarrow batch in, the same batch with
    the score columns appended out."""

    def __init__(self, model_dir: str, text_column: str, num_threads: int,
                 threshold: float | None = None, top_k: int | None = None,
                 taxonomy: str = "goemotions", window: bool = False,
                 stride: int | None = None) -> None:
        import emotag

        self.predictor = emotag.load(model_dir, num_threads=num_threads, window=window,
                                     stride=stride)
        self.text_column = text_column
        self.options = {"threshold": threshold, "top_k": top_k, "taxonomy": taxonomy}

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        texts = batch.column(self.text_column).to_pylist()
        for value in texts:
            if not isinstance(value, str):
                raise DataError(f"column {self.text_column!r} has a "
                                f"{'null' if value is None else type(value).__name__} value; "
                                "every row needs a text (an empty string is fine)")
        for name, values in score_columns(self.predictor, texts, **self.options).items():
            kind = pa.string() if name == PRED_COLUMN else pa.float32()
            batch = batch.append_column(name, pa.array(values, type=kind))
        return batch


# =========================================================================== the job
def score_files(model_dir: str | Path | None, inputs: str | Path | Sequence[str | Path],
                output_dir: str | Path, *, text_column: str = "text",
                address: str | None = None, num_actors: int | None = None,
                threads_per_actor: int | None = None,
                batch_size: int = DEFAULT_BATCH_SIZE, threshold: float | None = None,
                top_k: int | None = None, taxonomy: str = "goemotions", window: bool = False,
                stride: int | None = None, progress: bool = True) -> RayScoringResult:
    """Score every row of ``inputs`` with an actor pool and write Parquet into ``output_dir``.

    ``address``: an existing cluster (``"auto"``, ``"ray://head:10001"``, ``"head:6379"``);
    None starts a local Ray sized for the pool and stops it afterwards (a Ray already
    initialised in this process is used as it is). ``output_dir`` must be new or empty: a
    half-written folder from another run must not be mixed into this one.
    """
    from .predictor import DEFAULT_MODEL_DIR

    ray = import_ray()
    t0 = time.time()
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size}; expected 1 or more")
    model_dir = Path(model_dir or DEFAULT_MODEL_DIR).resolve()
    labels = output_labels(model_dir, taxonomy)
    paths, fmt = expand_inputs(inputs)
    output_dir = Path(output_dir)
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise ConfigError(f"{output_dir} already exists and is not an empty folder; choose "
                          "another --output or remove it")

    started_here = not ray.is_initialized()
    t_start = time.time()
    if started_here and address is None:
        actors, threads = plan_pool(len(os.sched_getaffinity(0)), num_actors, threads_per_actor)
        ray.init(num_cpus=actors * threads + IO_CPU_SLOTS, include_dashboard=False,
                 logging_level=logging.WARNING)
        cluster = f"local ({actors * threads} CPUs)"
    else:
        if started_here:
            _connect(ray, address)
        total = int(ray.cluster_resources().get("CPU", 0))
        actors, threads = plan_pool(max(1, total - IO_CPU_SLOTS), num_actors, threads_per_actor)
        cluster = address or "the Ray instance of this process"
        if actors * threads + IO_CPU_SLOTS > total:
            if started_here:
                ray.shutdown()
            raise ConfigError(f"{actors} actors x {threads} threads need {actors * threads} CPUs "
                              f"plus {IO_CPU_SLOTS} free for Ray Data's read/write tasks; "
                              f"{cluster} has {total}. Use fewer --num-actors or "
                              "--threads-per-actor")
    startup_s = time.time() - t_start
    ctx = ray.data.DataContext.get_current()
    saved = (ctx.execution_options.preserve_order, ctx.enable_progress_bars)
    ctx.execution_options.preserve_order = True  # output files and rows in input order
    ctx.enable_progress_bars = progress
    try:
        ds = read_dataset(ray, paths, fmt)
        schema = ds.schema()
        check_text_column(schema, text_column, paths[0])
        check_no_clash(schema.names, labels, path=paths[0])
        # Blocks of exactly batch_size rows (streaming, order kept): one read block per file
        # would feed one actor only, and row k*batch_size always starting a batch is what
        # makes the batches equal the single-process path's chunks (see the docstring)
        ds = ds.repartition(target_num_rows_per_block=batch_size, strict=True)
        ds = ds.map_batches(
            BatchScorer, batch_format="pyarrow", batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=threads,
            fn_constructor_kwargs={
                "model_dir": str(model_dir), "text_column": text_column, "num_threads": threads,
                "threshold": threshold, "top_k": top_k, "taxonomy": taxonomy, "window": window,
                "stride": stride})
        try:
            ds.write_datasink(ordered_parquet_sink(str(output_dir.resolve())))
        except Exception as e:  # Ray wraps what the actors raised; surface emotag's own error
            cause = _emotag_cause(e)
            if cause is not None:
                raise cause from None
            raise
    finally:
        ctx.execution_options.preserve_order, ctx.enable_progress_bars = saved
        if started_here:
            ray.shutdown()
    files = sorted(output_dir.glob("part-*.parquet"))
    return RayScoringResult(output=output_dir, rows=count_rows(files), files=files,
                            seconds=time.time() - t0, startup_s=startup_s, num_actors=actors,
                            threads_per_actor=threads, cluster=cluster, inputs=paths)


def _connect(ray: Any, address: str) -> None:
    """``ray.init(address=...)``, with an error that says what to check when it fails."""
    try:
        ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ConfigError(f"cannot connect to the Ray cluster at {address!r} ({e}); start one "
                          "with `ray start --head` and pass its address, or leave "
                          "--ray-address out for a local Ray") from e


def _emotag_cause(error: BaseException) -> EmotagError | None:
    """The EmotagError an actor raised, rebuilt from Ray's wrapper.

    Ray Data re-raises a failed batch as ``RayTaskError(UserCodeException)``; the original
    exception object does not survive the trip from the worker, only its traceback text, whose
    ``emotag.errors.<Class>: <message>`` line names the class and the message.
    """
    from .. import errors

    for line in reversed(str(error).splitlines()):
        match = _ERROR_LINE.match(line.strip())
        if match:
            cls = getattr(errors, match.group(1), None)
            if isinstance(cls, type) and issubclass(cls, EmotagError):
                return cls(match.group(2))
    return None


def expected_columns(input_columns: Sequence[str], label_names: Sequence[str]) -> list[str]:
    """The output schema of a Ray run: the input's columns, then the added ones."""
    return [*input_columns, *output_column_names(label_names)]
