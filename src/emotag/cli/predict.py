"""``emotag predict``: emotions of texts given inline or in a txt/csv/jsonl file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..data import read_records
from ..errors import DataError
from .train import console


def read_texts(path: Path, text_column: str) -> list[str]:
    """Texts of a .txt (one per line), or the ``text_column`` of a csv/tsv/jsonl/parquet."""
    if path.suffix.lower() == ".txt":
        if not path.is_file():
            raise DataError("file not found", path=str(path))
        return [line.rstrip("\n") for line in path.open(encoding="utf-8") if line.strip()]
    records = read_records(path)
    texts = []
    for row_no, rec in enumerate(records, start=1):
        if text_column not in rec:
            raise DataError(f"missing column {text_column!r}; columns are {list(rec)}",
                            path=str(path), row=row_no)
        value = rec[text_column]
        if not isinstance(value, str):
            raise DataError(f"column {text_column!r} must be a string, got "
                            f"{type(value).__name__}", path=str(path), row=row_no)
        texts.append(value)
    return texts


def predict_command(
    model_dir: Annotated[Path | None, typer.Argument(
        help="Model folder (default: the shipped model).")] = None,
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to tag.")] = None,
    input_: Annotated[Path | None, typer.Option(
        "--input", "-i", help="txt (one text per line), csv, tsv, jsonl or parquet.")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --input.")] = "text",
    all_scores: Annotated[bool, typer.Option("--all-scores", help="Every label's score.")] = False,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, help="At most k labels.")] = None,
    threshold: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="One threshold for all labels instead of the tuned ones.")] = None,
    taxonomy: Annotated[str, typer.Option(help="goemotions | ekman | sentiment")] = "goemotions",
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines output.")] = False,
) -> None:
    """Print the emotions above the model's thresholds, with scores."""
    from ..errors import ModelFormatError
    from ..predictor import DEFAULT_MODEL_DIR, Predictor

    items = list(texts or [])
    if model_dir is not None and not model_dir.is_dir():
        if not (DEFAULT_MODEL_DIR / "emotag.json").is_file():
            raise ModelFormatError(f"model folder not found: {model_dir} (and no default model "
                                   f"is installed at {DEFAULT_MODEL_DIR})")
        items.insert(0, str(model_dir))  # not a folder: the first argument is already a text
        model_dir = None
    if input_ is not None:
        items += read_texts(input_, text_column)
    if not items:
        raise typer.BadParameter("give texts as arguments or --input FILE")
    predictor = Predictor.load(model_dir)
    results = predictor.predict(items, threshold=threshold, top_k=top_k, taxonomy=taxonomy,
                                all_scores=all_scores)
    for text, labels in zip(items, results, strict=True):
        if as_json:
            typer.echo(json.dumps({"text": text, "labels": labels}, ensure_ascii=False))
        else:
            shown = ", ".join(f"{x['label']} {x['score']:.3f}" for x in labels) or "(none)"
            console.print(f"{shown}\t[dim]{text}[/dim]", highlight=False, soft_wrap=True)
