"""``emotag predict``: emotions of texts given inline or in a file, printed or written to a file.

Two modes. Without ``--output`` the results are printed (texts from the arguments and/or
``--input``, read chunk by chunk, so a large file starts printing at once). With ``--output``
every row of ``--input`` is written with its score columns
(:mod:`emotag.inference.batch_scoring`) by the resumable streaming scorer
(:mod:`emotag.inference.streaming`).
Each mode is one small function; new options (another engine, explanations) plug in at
:func:`predict_command`'s dispatch. ``--engine ray`` scores the files on a Ray Data actor pool
into a folder of Parquet parts with the same columns (:mod:`emotag.inference.ray_scoring`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from ..inference.streaming import DEFAULT_CHUNK_SIZE
from ..labels import TAXONOMIES
from .train import console


def iter_input_texts(path: Path, text_column: str, chunk_size: int = DEFAULT_CHUNK_SIZE
                     ) -> Iterator[list[str]]:
    """Texts of ``path`` a chunk at a time: a .txt (one per line, blank lines skipped) or
    the ``text_column`` of a csv/tsv/jsonl/parquet. Bad rows are DataErrors with file/row."""
    from ..data.tables import file_format, iter_chunks

    skip_blank = file_format(path) == "txt"
    for chunk in iter_chunks(path, chunk_size):
        texts = chunk.texts(text_column, path)
        yield [t for t in texts if t.strip()] if skip_blank else texts


def read_texts(path: Path, text_column: str) -> list[str]:
    """Every text of ``path`` in one list (small files; see :func:`iter_input_texts`)."""
    return [t for chunk in iter_input_texts(path, text_column) for t in chunk]


def predict_command(
    model_dir: Annotated[str | None, typer.Argument(
        help="Model folder (default: the shipped model). A first argument that is not a "
        "folder is the first text, unless it looks like a path (then: model folder not "
        "found).", show_default=False)] = None,
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to tag.")] = None,
    input_: Annotated[Path | None, typer.Option(
        "--input", "-i", help="txt (one text per line), csv, tsv, jsonl or parquet.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write every --input row plus pred_labels and score_<label> "
        "columns here (format from the suffix: txt, csv, tsv, jsonl, parquet) instead of "
        "printing.")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --input.")] = "text",
    chunk_size: Annotated[int, typer.Option(
        "--chunk-size", min=1, help="Rows read, scored and written at a time (memory bound; "
        "with --output, the unit of progress kept across an interruption).")
    ] = DEFAULT_CHUNK_SIZE,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted --output run where it stopped.")] = False,
    all_scores: Annotated[bool, typer.Option("--all-scores", help="Every label's score.")] = False,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, help="At most k labels.")] = None,
    threshold: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="One threshold for all labels instead of the tuned ones.")] = None,
    taxonomy: Annotated[str, typer.Option(help="goemotions | ekman | sentiment")] = "goemotions",
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, help="CPU threads for the model (default: every core).")] = None,
    window: Annotated[bool, typer.Option(
        "--window", help="Score texts longer than the model's token limit as overlapping "
        "windows (max per label) instead of cutting them.")] = False,
    stride: Annotated[int | None, typer.Option(
        "--stride", min=0, help="Tokens shared by consecutive windows (implies --window; "
        "default a quarter of max_length).")] = None,
    progress: Annotated[bool, typer.Option(
        "--progress/--no-progress", help="Progress bar on stderr (with --output).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Also the words behind each label (occlusion: one extra model call "
        "per word, so several times slower).")] = False,
    engine: Annotated[str, typer.Option(
        "--engine", help="local: this process (default). ray: a Ray Data actor pool reads "
        "--input (parquet/csv/tsv/jsonl file, folder or quoted glob) and writes Parquet parts "
        "into the --output folder (needs pip install \"emotag[ray]\").")] = "local",
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="--engine ray: an existing cluster (auto, HOST:6379, "
        "ray://HOST:10001); default: start a local Ray for this command.")] = None,
    num_actors: Annotated[int | None, typer.Option(
        "--num-actors", min=1, help="--engine ray: model replicas (default: CPUs / "
        "--threads-per-actor).")] = None,
    threads_per_actor: Annotated[int | None, typer.Option(
        "--threads-per-actor", min=1, help="--engine ray: CPU threads per replica (default: "
        "CPUs / --num-actors, else 1).")] = None,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", min=1, help="--engine ray: rows per actor call (default: "
        "--chunk-size).")] = None,
) -> None:
    """Print the emotions above the model's thresholds, with scores; or, with --output, write
    every input row plus its scores to a file (streamed, resumable with --resume)."""
    model_path, items = _split_model_and_texts(model_dir, list(texts or []))
    check_taxonomy_option(model_path, taxonomy)
    if engine != "local" or any(v is not None for v in (ray_address, num_actors,
                                                         threads_per_actor, batch_size)):
        _check_ray_mode(engine, input_, output, items, resume, threads)
        _check_file_mode(input_, items, explain, all_scores, as_json)
        _score_with_ray(model_path, input_, output, text_column=text_column,
                        address=ray_address, num_actors=num_actors,
                        threads_per_actor=threads_per_actor, batch_size=batch_size or chunk_size,
                        threshold=threshold, top_k=top_k, taxonomy=taxonomy, window=window,
                        stride=stride, progress=progress)
        return
    if output is not None:
        _check_file_mode(input_, items, explain, all_scores, as_json)
    elif input_ is None and not items:
        raise typer.BadParameter("give texts as arguments or --input FILE")
    elif resume:
        raise typer.BadParameter("--resume continues an --output run", param_hint="--resume")
    predictor = _load_predictor(model_path, threads, window, stride)
    if output is not None:
        _write_file(predictor, input_, output, text_column=text_column, chunk_size=chunk_size,
                    resume=resume, threshold=threshold, top_k=top_k, taxonomy=taxonomy,
                    progress=progress)
        return
    batches: list[list[str]] = [items] if items else []
    stream = iter_input_texts(input_, text_column, chunk_size) if input_ is not None else []
    for batch in _chain(batches, stream):
        _print_batch(predictor, batch, threshold=threshold, top_k=top_k, taxonomy=taxonomy,
                     all_scores=all_scores, as_json=as_json, explain=explain)


# --------------------------------------------------------------------------- helpers
def _split_model_and_texts(first: str | None, items: list[str]
                           ) -> tuple[Path | None, list[str]]:
    """Whether the first argument is the model folder or the first text.

    A folder is the model. Something that looks like a path (one word with a ``/`` or ``\\``,
    not a URL) or names an existing file is a model folder that is not there: an error, never
    a text scored with the default model. Anything else is the first text for the default
    model, kept exactly as typed (a str, not a Path, which would fold ``//``); a single word
    followed by more texts is scored too, with a warning on stderr naming it (it may be a
    mistyped folder).
    """
    from ..errors import ModelFormatError
    from ..inference.predictor import DEFAULT_MODEL_DIR

    if first is None:
        return None, items
    if Path(first).is_dir():
        return Path(first), items
    if Path(first).exists():
        raise ModelFormatError(f"{first} is a file, not a model folder; score the texts of a "
                               "file with --input FILE")
    if _looks_like_path(first):
        raise ModelFormatError(f"model folder not found: {first} (to tag it as a text, give "
                               f"the model folder first, e.g. {DEFAULT_MODEL_DIR})")
    if not (DEFAULT_MODEL_DIR / "emotag.json").is_file():
        raise ModelFormatError(f"model folder not found: {first} (and no default model "
                               f"is installed at {DEFAULT_MODEL_DIR})")
    if items and not any(c.isspace() for c in first):
        typer.echo(f"warning: {first!r} is not a model folder; scoring it as a text with the "
                   "default model", err=True)
    return None, [first, *items]


def _looks_like_path(arg: str) -> bool:
    """One word (no whitespace) with a path separator that is not a URL."""
    if not arg or any(c.isspace() for c in arg) or "://" in arg:
        return False
    return "/" in arg or "\\" in arg


def check_taxonomy_name(taxonomy: str) -> None:
    """``--taxonomy`` names one of :data:`~emotag.labels.TAXONOMIES` (a usage error, exit
    code 2, otherwise)."""
    if taxonomy not in TAXONOMIES:
        raise typer.BadParameter(f"{taxonomy!r}; expected one of {', '.join(TAXONOMIES)}",
                                 param_hint="--taxonomy")


def check_taxonomy_option(model_dir: Path | None, taxonomy: str) -> None:
    """An unknown taxonomy, or a grouping the model's labels do not cover (``--taxonomy
    ekman`` for a model with custom labels), is a usage error: one line on stderr and exit
    code 2, before any model is loaded or any output written."""
    check_taxonomy_name(taxonomy)
    if taxonomy == "goemotions":
        return
    from ..errors import TaxonomyError
    from ..inference.groups import check_taxonomy
    from ..inference.predictor import DEFAULT_MODEL_DIR
    from ..models.base import read_manifest

    try:
        check_taxonomy(taxonomy, read_manifest(model_dir or DEFAULT_MODEL_DIR)["label_names"])
    except TaxonomyError as e:
        typer.echo(f"error: --taxonomy {taxonomy}: {e}", err=True)
        raise typer.Exit(2) from None


def _check_file_mode(input_: Path | None, items: list[str], explain: bool, all_scores: bool,
                     as_json: bool) -> None:
    if input_ is None:
        raise typer.BadParameter("--output writes the rows of --input FILE; give --input",
                                 param_hint="--output")
    if items:
        raise typer.BadParameter("texts given as arguments are printed, not written to "
                                 "--output; put them in the --input file", param_hint="--output")
    for flag, used in (("--explain", explain), ("--all-scores", all_scores),
                       ("--json", as_json)):
        if used:
            raise typer.BadParameter(f"{flag} is for printed results; --output always writes "
                                     "every score column", param_hint=flag)


def _load_predictor(model_dir: Path | None, threads: int | None, window: bool,
                    stride: int | None) -> Any:
    from ..inference.predictor import Predictor

    return Predictor.load(model_dir, num_threads=threads, window=window, stride=stride)


def _write_file(predictor: Any, input_: Path, output: Path, **options: Any) -> None:
    from ..inference.streaming import score_file

    progress = options.pop("progress")
    result = score_file(predictor, input_, output, show_progress=progress, **options)
    resumed = (f" ({result.resumed_from:,} written before the interruption)"
               if result.resumed_from else "")
    console.print(f"wrote {result.rows:,} rows to {output}{resumed}; scored "
                  f"{result.rows_scored:,} in {result.seconds:.1f} s "
                  f"({result.rows_per_s:,.0f} rows/s)", highlight=False)


def _check_ray_mode(engine: str, input_: Path | None, output: Path | None, items: list[str],
                    resume: bool, threads: int | None) -> None:
    """--engine ray scores files into a folder; the options of the other modes do not apply."""
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"{engine!r}; expected local or ray", param_hint="--engine")
    if engine == "local":
        raise typer.BadParameter("--ray-address, --num-actors, --threads-per-actor and "
                                 "--batch-size need --engine ray", param_hint="--engine")
    if input_ is None or output is None:
        raise typer.BadParameter("--engine ray reads --input FILE|FOLDER|'GLOB' and writes "
                                 "Parquet parts into the --output folder; give both",
                                 param_hint="--engine")
    if resume:
        raise typer.BadParameter("--engine ray writes a new folder; rerun into an empty "
                                 "--output instead of --resume", param_hint="--resume")
    if threads is not None:
        raise typer.BadParameter("--threads is for --engine local; use --threads-per-actor",
                                 param_hint="--threads")


def _score_with_ray(model_dir: Path | None, input_: Path, output: Path, **options: Any) -> None:
    from ..inference.ray_scoring import score_files

    result = score_files(model_dir, str(input_), output, **options)
    console.print(f"wrote {result.rows:,} rows in {len(result.files)} Parquet file(s) to "
                  f"{output} with {result.num_actors} actor(s) x {result.threads_per_actor} "
                  f"thread(s) on {result.cluster} in {result.seconds:.1f} s, Ray start-up "
                  f"{result.startup_s:.1f} s ({result.rows_per_s:,.0f} rows/s)", highlight=False)


def _chain(*sources: Any) -> Iterator[list[str]]:
    for source in sources:
        yield from source


def _print_batch(predictor: Any, items: list[str], *, threshold: float | None,
                 top_k: int | None, taxonomy: str, all_scores: bool, as_json: bool,
                 explain: bool) -> None:
    """Predict ``items`` and print one line (or JSON object) per text."""
    if not items:
        return
    results = predictor.predict(items, threshold=threshold, top_k=top_k, taxonomy=taxonomy,
                                all_scores=all_scores)
    why: list[dict | None] = [None] * len(items)
    if explain:
        from ..inference.explain import explain as explain_labels

        why = explain_labels(predictor, items, [[x["label"] for x in r] for r in results],
                             taxonomy=taxonomy)
    for text, labels, words in zip(items, results, why, strict=True):
        if as_json:
            row = {"text": text, "labels": labels}
            if words is not None:
                row["explanations"] = words
            typer.echo(json.dumps(row, ensure_ascii=False))
        else:
            _print_line(text, labels, words)


def _print_line(text: str, labels: list[dict], words: dict | None) -> None:
    """Labels, a tab, then the text exactly as given: plain output, never rich markup
    (``[NAME]`` or ``[/b]`` in a text are words, not tags)."""
    shown = ", ".join(f"{x['label']} {x['score']:.3f}" for x in labels) or "(none)"
    typer.echo(f"{shown}\t{text}")
    if words:
        from ..inference.explain import top_words

        for label, label_words in words.items():
            typer.echo(f"  {label}: {top_words(label_words)}")
