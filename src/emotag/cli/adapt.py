"""``emotag adapt``: adapt a model's decisions to your domain from a few hundred labelled rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .train import console


def adapt_command(
    model_dir: Annotated[Path | None, typer.Argument(
        help="Model folder to adapt (default: the shipped model).", show_default=False)
    ] = None,
    data: Annotated[Path, typer.Option(
        "--data", help="Labelled csv/tsv/jsonl/parquet file from your domain (a few hundred "
        "rows; labels: names in --taxonomy).")] = ...,  # type: ignore[assignment]
    taxonomy: Annotated[str, typer.Option(
        "--taxonomy", help="What the labels of --data name: goemotions (the model's own "
        "labels), ekman or sentiment.")] = "goemotions",
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="New model folder to write (the model plus adaptation.json).")
    ] = ...,  # type: ignore[assignment]
    text_column: Annotated[str, typer.Option(help="Text column of --data.")] = "text",
    label_column: Annotated[str, typer.Option(help="Labels column of --data.")] = "labels",
    l2: Annotated[float, typer.Option(
        "--l2", min=0.0, help="L2 strength of the refit (larger: closer to the model's own "
        "scores).")] = 100.0,
    seed: Annotated[int, typer.Option(help="Seed of the cross-validation folds.")] = 0,
) -> None:
    """Learn, from labelled rows of your domain, per-label (or per-group) corrections of the
    model's scores and thresholds; print a cross-validated estimate of the gain; write a model
    folder that load, predict, batch scoring, serve and export use like any other."""
    from ..inference.adapt import MIN_POSITIVES, adapt_model

    result = adapt_model(data, output, model_dir=model_dir, taxonomy=taxonomy,
                         text_column=text_column, label_column=label_column, l2=l2, seed=seed)
    cv = result["cross_validation"]
    low, high = cv["gain_interval"]
    console.print(f"adapted {result['base_model']} in {taxonomy!r} on {result['rows']} rows "
                  f"of {data}", soft_wrap=True)
    console.print(f"cross-validated macro-F1 over the {len(cv['columns'])} labels the rows "
                  f"show ({cv['folds']} folds): base {cv['base_macro_f1']:.3f} -> adapted "
                  f"{cv['adapted_macro_f1']:.3f} (gain {cv['gain']:+.3f}, 95% interval "
                  f"[{low:+.3f}, {high:+.3f}])", soft_wrap=True)
    if low <= 0:
        console.print("note: the interval includes 0; on these rows the gain is within the "
                      "noise (more labelled rows narrow it)", soft_wrap=True)
    console.print(f"adapted: {', '.join(result['adapted']) or 'nothing'}", soft_wrap=True)
    if result["kept_base"]:
        kept = ", ".join(f"{n} ({k} rows)" for n, k in result["kept_base"].items())
        console.print(f"kept the model's own scores and thresholds (fewer than {MIN_POSITIVES} "
                      f"positive rows): {kept}", soft_wrap=True)
    console.print(f"wrote {result['output']}; try: emotag predict {result['output']} "
                  f"--taxonomy {taxonomy} \"some text\"", soft_wrap=True)
