"""Test helper: the bundled GoEmotions relabelled to Ekman's six emotions plus neutral, written
as a person's spreadsheet would be (CSV, UTF-8 with a byte-order mark, CRLF line ends).

A GoEmotions example gets the Ekman group of each of its labels (the paper's
``ekman_mapping.json``; ``neutral`` stays ``neutral``), so the files carry 7 label names that
are all GoEmotions names too: exactly the case that must not be widened to 28 labels.

    python tests/ekman_files.py OUT_DIR [--rows N]   # train.csv, dev.csv, test.csv
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from emotag.data.datasets import load_goemotions
from emotag.labels import taxonomy_groups

EKMAN_LABELS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")


def ekman_rows(split_name: str, rows: int | None = None) -> list[tuple[str, str]]:
    """``(text, "label,label")`` pairs of a bundled split relabelled to Ekman."""
    split = load_goemotions()[split_name].head(rows)
    group_of = {m: g for g, members in taxonomy_groups("ekman").items() for m in members}
    out = []
    for text, row in zip(split.texts, split.labels, strict=True):
        names = [split.label_names[j] for j in row.nonzero()[0]]
        groups = sorted({group_of[n] for n in names}, key=EKMAN_LABELS.index)
        out.append((text, ",".join(groups)))
    return out


def write_excel_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    """``text,labels`` CSV as Excel's "CSV UTF-8" saves it: BOM, CRLF, quoted as needed."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["text", "labels"])
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    return path


def write_ekman_files(folder: Path, rows: int | None = None) -> dict[str, Path]:
    """train.csv, dev.csv and test.csv in ``folder`` (the first ``rows`` of each split)."""
    return {name: write_excel_csv(Path(folder) / f"{name}.csv", ekman_rows(name, rows))
            for name in ("train", "dev", "test")}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rows", type=int, default=None, help="first N rows of each split")
    args = parser.parse_args()
    for name, path in write_ekman_files(args.folder, args.rows).items():
        print(f"{name}: {path} ({path.stat().st_size:,} bytes)")
