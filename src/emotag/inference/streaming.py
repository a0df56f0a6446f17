"""Score a file of any size into another, in chunks, resumably (``emotag predict --output``).

Memory stays bounded by ``chunk_size`` rows whatever the file's size: chunks are read
(:func:`emotag.data.tables.iter_chunks`), scored
(:func:`emotag.inference.batch_scoring.score_columns`),
appended to a partial output and forgotten.

Resume protocol. Next to ``Y`` the run keeps ``Y.progress.json``, rewritten atomically after
each chunk has been flushed and fsynced: rows done, the writer's state (byte offset of
``Y.partial``, or the number of part files in ``Y.parts/``), the chunk size, and fingerprints
of the input file (size + sha256), of the options that change the output and of the model
(the files it is loaded from, thresholds and window setting; not the reports, evaluations
or exports that other commands add to its folder). The progress file is written before the
partial output is created, so a partial output without one was never committed to.
``--resume`` checks the fingerprints (a changed input, option or model is an error: mixing
two runs' rows in one file would be silent corruption), cuts the partial output back to the
recorded state, skips the rows already written and carries on with the recorded chunk size
(with an int8 model a text's scores depend slightly on the other texts of its batch, so the
same chunks give the same scores as an uninterrupted run). The complete file is renamed to
``Y`` and the progress file removed last. Without ``--resume`` an unfinished run in the way is
an error that says what to do, never silently overwritten.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.tables import count_rows, file_format, iter_chunks
from ..data.writers import open_writer, partial_path
from ..errors import DataError, ResumeError
from ..models.base import model_digest
from ..utils.files import atomic_write_json, sha256_file
from .batch_scoring import check_no_clash, score_columns

PROGRESS_SUFFIX = ".progress.json"
PROGRESS_VERSION = 1
DEFAULT_CHUNK_SIZE = 5000


@dataclass
class ScoreFileResult:
    """What :func:`score_file` did."""

    output: Path
    rows: int          #: data rows in the output
    rows_scored: int   #: rows scored by this call (fewer than ``rows`` after a resume)
    resumed_from: int  #: rows already written by an earlier, interrupted call
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows_scored / self.seconds if self.seconds > 0 else 0.0


def progress_path(output: Path) -> Path:
    """The progress file of a run writing ``output``."""
    output = Path(output)
    return output.with_name(output.name + PROGRESS_SUFFIX)


def score_file(predictor: Any, input_path: Path, output_path: Path, *,
               text_column: str = "text", threshold: float | None = None,
               top_k: int | None = None, taxonomy: str = "goemotions",
               chunk_size: int = DEFAULT_CHUNK_SIZE, resume: bool = False,
               show_progress: bool = True, console: Any = None,
               on_chunk: Callable[[int], None] | None = None) -> ScoreFileResult:
    """Write every row of ``input_path`` plus the score columns to ``output_path``.

    Formats follow the suffixes (see :mod:`emotag.data.tables`). ``on_chunk(rows_done)`` runs
    after each chunk is committed (tests interrupt a run there). Raises DataError for bad
    rows (file and 1-based row named) and ResumeError when an unfinished run is in the way
    or cannot be resumed.
    """
    input_path, output = Path(input_path), Path(output_path)
    console = console or _stderr_console()
    fmt_in, fmt_out = file_format(input_path), file_format(output, output=True)
    if not input_path.is_file():
        raise DataError("file not found", path=str(input_path))
    if output.resolve() == input_path.resolve():
        raise DataError("--output is the input file itself; write somewhere else",
                        path=str(output))
    labels = output_label_names(predictor, taxonomy)
    options = {"text_column": text_column, "threshold": threshold, "top_k": top_k,
               "taxonomy": taxonomy, "input_format": fmt_in, "output_format": fmt_out}
    fingerprint = {"input": file_fingerprint(input_path), "options": options,
                   "model": model_fingerprint(predictor)}
    state = _start_state(output, fingerprint, resume, chunk_size, console)
    chunk_size = int(state["chunk_size"])
    sidecar = progress_path(output)
    if state["rows_done"] == 0 and state["writer"] is None:
        atomic_write_json(sidecar, state)  # before the partial output exists (see above)
    writer = open_writer(output, input_path, state["writer"])
    resumed_from = rows_done = int(state["rows_done"])
    t0 = time.perf_counter()
    try:
        with _progress(console, show_progress, count_rows(input_path), rows_done) as bar:
            for chunk in iter_chunks(input_path, chunk_size):
                check_no_clash(chunk.columns(), labels, path=str(input_path))
                if len(chunk) and chunk.start + len(chunk) <= rows_done:
                    continue  # written before the interruption
                if chunk.start < rows_done:
                    chunk = chunk.slice(rows_done - chunk.start)
                texts = chunk.texts(text_column, input_path)
                writer.write(chunk, score_columns(predictor, texts, threshold=threshold,
                                                  top_k=top_k, taxonomy=taxonomy))
                state["writer"] = writer.commit()
                rows_done = state["rows_done"] = chunk.start + len(chunk)
                atomic_write_json(sidecar, state)
                bar.advance(rows_done, rows_done - resumed_from, time.perf_counter() - t0)
                if on_chunk is not None:
                    on_chunk(rows_done)
            state["finished"] = True
            atomic_write_json(sidecar, state)
            writer.finish()
    except KeyboardInterrupt:
        console.print(f"interrupted after {rows_done:,} rows; run the same command with "
                      "--resume to continue", highlight=False, style="yellow")
        raise
    except DataError:
        # A bad row stops every run at the same place and fixing it changes the input's
        # fingerprint, so this partial output could never be resumed: remove it.
        writer.close()
        _discard(output)
        raise
    finally:
        writer.close()
    sidecar.unlink(missing_ok=True)
    return ScoreFileResult(output, rows_done, rows_done - resumed_from, resumed_from,
                           time.perf_counter() - t0)


# --------------------------------------------------------------------------- state
def _discard(output: Path) -> None:
    """Remove an unfinished run's partial output and progress file."""
    import shutil

    partial = partial_path(output)
    if partial.is_dir():
        shutil.rmtree(partial, ignore_errors=True)
    else:
        partial.unlink(missing_ok=True)
    progress_path(output).unlink(missing_ok=True)


def _start_state(output: Path, fingerprint: dict[str, Any], resume: bool, chunk_size: int,
                 console: Any) -> dict[str, Any]:
    """A fresh progress state, or the saved one of the unfinished run being resumed."""
    sidecar, partial = progress_path(output), partial_path(output)
    saved = _read_progress(sidecar) if sidecar.exists() else None
    if saved is not None and saved.get("finished") and not partial.exists():
        sidecar.unlink()  # the run completed; only removing this file was left
        saved = None
    if saved is not None or partial.exists():
        if not resume:
            raise ResumeError(f"an unfinished run is writing {output} ({partial.name}, "
                              f"{sidecar.name}); pass --resume to continue it, or delete "
                              f"{partial} and {sidecar} to start over")
        if saved is None:
            raise ResumeError(f"{partial} has no progress file ({sidecar.name}), so what it "
                              f"holds cannot be trusted; delete {partial} and run again")
        _check_same_run(saved["fingerprint"], fingerprint, output)
        if int(saved["chunk_size"]) != int(chunk_size):
            console.print(f"resuming with the run's chunk size {saved['chunk_size']} (not "
                          f"{chunk_size}) so its batches, and scores, stay the same",
                          highlight=False, markup=False)
        console.print(f"resuming {output}: {saved['rows_done']:,} rows already written",
                      highlight=False, markup=False)
        return saved
    if resume:
        console.print(f"no unfinished run for {output}; starting from the first row",
                      highlight=False, markup=False)
    return {"emotag_progress": PROGRESS_VERSION, "output": str(output),
            "rows_done": 0, "chunk_size": max(1, int(chunk_size)), "writer": None,
            "fingerprint": fingerprint}


def _read_progress(sidecar: Path) -> dict[str, Any]:
    try:
        state = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ResumeError(f"{sidecar}: unreadable progress file ({e}); delete it and the "
                          "partial output to start over") from None
    if state.get("emotag_progress") != PROGRESS_VERSION or "fingerprint" not in state:
        raise ResumeError(f"{sidecar}: not a progress file of this emotag version; delete it "
                          "and the partial output to start over")
    return state


def _check_same_run(saved: dict[str, Any], now: dict[str, Any], output: Path) -> None:
    """ResumeError naming every difference between the saved run and this call."""
    problems = []
    if saved.get("input") != now["input"]:
        problems.append("the input file changed (size or sha256)")
    before, after = saved.get("options", {}), now["options"]
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            problems.append(f"{key} was {before.get(key)!r}, now {after.get(key)!r}")
    if saved.get("model") != now["model"]:
        problems.append("the model (its files, thresholds or window setting) changed")
    if problems:
        raise ResumeError(f"cannot resume {output}: {'; '.join(problems)}. Use the original "
                          f"input, model and options, or delete {partial_path(output)} and "
                          f"{progress_path(output)} to start over")


# --------------------------------------------------------------------------- fingerprints
def file_fingerprint(path: Path) -> dict[str, Any]:
    """Size and sha256 of a file's bytes (its content, not its name or mtime)."""
    path = Path(path)
    return {"size": path.stat().st_size, "sha256": sha256_file(path)}


def model_fingerprint(predictor: Any) -> dict[str, Any]:
    """What decides a model's scores and decisions: the files it is loaded from
    (:func:`emotag.models.base.model_digest`: weights, tokenizer, manifest, thresholds,
    calibration; not the evaluations, exports or reports other commands add to its folder),
    labels, thresholds and windows."""
    info: dict[str, Any] = {
        "class": type(predictor.model).__name__, "labels": list(predictor.labels),
        "thresholds": [round(float(t), 9) for t in np.asarray(predictor.thresholds)],
        "window_overlap": getattr(predictor.model, "window_overlap", None)}
    folder = getattr(predictor, "path", None)
    if folder is not None and Path(folder).is_dir():
        info["files_sha256"] = model_digest(Path(folder))
    return info


def output_label_names(predictor: Any, taxonomy: str) -> list[str]:
    """The names of the score columns: the model's labels, or the taxonomy's groups."""
    from .groups import output_names

    return output_names(predictor.labels, taxonomy)  # a TaxonomyError before anything is written


# --------------------------------------------------------------------------- progress bar
def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, markup=False, emoji=False)  # messages name user paths


class _Bar:
    """A rich progress bar: rows done (of the total when known), rows/s, elapsed time."""

    def __init__(self, console: Any, enabled: bool, total: int | None, done: int) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns: list[Any] = [SpinnerColumn(), TextColumn("scoring")]
        if total:
            columns += [BarColumn(), TaskProgressColumn()]
        columns += [TextColumn("{task.completed:,.0f}{task.fields[of]} rows"),
                    TextColumn("{task.fields[rate]} rows/s"), TimeElapsedColumn()]
        self.progress = Progress(*columns, console=console, disable=not enabled)
        self.task = self.progress.add_task("scoring", total=total, completed=done,
                                           of=f" / {total:,}" if total else "", rate="-")

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, done: int, scored: int, seconds: float) -> None:
        rate = f"{scored / seconds:,.0f}" if seconds > 0 else "-"
        self.progress.update(self.task, completed=done, rate=rate)


def _progress(console: Any, enabled: bool, total: int | None, done: int) -> _Bar:
    return _Bar(console, enabled, total, done)
