"""``emotag export``: a transformer run to ONNX (fp32 and int8), checked against PyTorch on the
run's own data (or ``--data FILE``), optionally packaged as a model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from .train import console


def report_rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    """(model, file, MB, max |dp| vs torch, dev macro-F1, dev seconds, max |dp| between a
    text scored alone and in a batch) per model."""
    dev = report.get("dev") or {}
    f1, secs = dev.get("macro_f1", {}), dev.get("seconds", {})

    def fmt(x: float | None, spec: str) -> str:
        return "-" if x is None else format(x, spec)

    rows = [("torch", "-", "-", "-", fmt(f1.get("torch"), ".4f"), fmt(secs.get("torch"), ".1f"),
             "-")]
    for key, entry in report["models"].items():
        dev_key = "onnx_int8" if key == "int8" else "onnx_fp32"
        on_dev = key == "int8" or entry["file"] == dev.get("fp32_file")
        rows.append((f"onnx {key}", entry["file"], fmt((entry.get("bytes") or 0) / 1e6, ".1f"),
                     fmt(entry["max_abs_diff"], ".2e"),
                     fmt(f1.get(dev_key) if on_dev else None, ".4f"),
                     fmt(secs.get(dev_key) if on_dev else None, ".1f"),
                     fmt((entry.get("batch_invariance") or {}).get("max_abs_diff"), ".1e")))
    return rows


def export_command(
    model_dir: Annotated[Path, typer.Argument(help="A transformer run folder (emotag train).")],
    onnx: Annotated[bool, typer.Option("--onnx", help="Export to ONNX (the only format).")
                    ] = False,
    int8: Annotated[bool, typer.Option(
        "--int8/--no-int8", help="Also write a static-int8 model (activation scales "
        "calibrated on the check data; scores independent of batch mates).")] = True,
    optimize: Annotated[bool, typer.Option(
        "--optimize/--no-optimize", help="Try onnxruntime's transformer graph fusions.")] = True,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where to write (default: MODEL_DIR/onnx).")] = None,
    package: Annotated[Path | None, typer.Option(
        "--package", help="Also write a model folder that emotag.load serves with ONNX "
        "(the int8 model, or fp32 with --no-int8).")] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="A labelled csv/tsv/jsonl/parquet file (the model's label names) to "
        "check and calibrate on (default: the run's own dev split, from its "
        "train_config.json).")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of --data.")] = "text",
    label_column: Annotated[str, typer.Option(help="Labels column of --data.")] = "labels",
    dev_limit: Annotated[int | None, typer.Option(
        "--dev-limit", min=0, help="Compare macro-F1 on the first N dev rows (0: skip).")
    ] = None,
    opset: Annotated[int, typer.Option(help="ONNX opset.")] = 17,
) -> None:
    """Export to ONNX; print the probability differences and dev macro-F1 against PyTorch."""
    from rich.table import Table

    from ..inference.export import export_onnx, package_onnx_model

    if not onnx:
        raise ConfigError("choose a format: `emotag export MODEL_DIR --onnx` (ONNX is the only "
                          "one)")
    out_dir = output or model_dir / "onnx"
    report = export_onnx(model_dir, out_dir, int8=int8, optimize=optimize, opset=opset,
                         data=data, text_column=text_column, label_column=label_column,
                         dev_limit=dev_limit)
    dev = report.get("dev")
    title = f"ONNX export vs PyTorch ({report['check']['n_texts']} texts for |dp|"
    title += f", dev n={dev['n_examples']})" if dev else ")"
    table = Table(title=title)
    for col in ("model", "file", "MB", "max |dp|", "dev macro-F1", "dev s", "alone/batch"):
        table.add_column(col, justify="left" if col in ("model", "file") else "right")
    for row in report_rows(report):
        table.add_row(*row)
    console.print(table)
    console.print(f"checked on: {report.get('check_data')}", highlight=False)
    if "optimizer" in report:
        info = report["optimizer"]
        console.print(f"optimizer: {'used' if info['used'] else 'not used'} "
                      f"({info.get('reason', '')})", highlight=False)
    if "quantization" in report:
        q = report["quantization"]
        console.print(f"int8: {q['method']} {q['format']}, {q['weights']} weights, "
                      f"{q['activations']}; from {q['source']}", highlight=False)
    if package is not None:
        chosen = out_dir / report["models"]["int8" if int8 else
                                            ("fp32_opt" if "fp32_opt" in report["models"]
                                             else "fp32")]["file"]
        package_onnx_model(model_dir, chosen, package)
        console.print(f"packaged {chosen.name} as {package} (emotag.load / emotag predict)")
    console.print(f"report: {out_dir / 'export_report.json'}")
