"""Reading labelled splits: the bundled GoEmotions copy, the hub dataset, and user files.

Every loader returns :class:`Split` objects (texts + a multi-hot matrix in label order), so
models, thresholds and reports never care where the data came from. Bad rows stop the run
with a :class:`~emotag.errors.DataError` naming the file, the row and the problem.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DataConfig
from ..errors import ChecksumError, DataError, MissingDependencyError
from ..labels import GOEMOTIONS_LABELS, encode
from ..resources import goemotions_dir

SPLIT_FILES = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}


@dataclass
class Split:
    """One split: ``texts[i]`` has labels ``labels[i]`` (uint8 row in ``label_names`` order)."""

    name: str
    texts: list[str]
    labels: np.ndarray
    label_names: list[str]
    ids: list[str] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, n: int | None) -> Split:
        """The first ``n`` rows (all of them when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        return Split(self.name, self.texts[:n], self.labels[:n], self.label_names,
                     self.ids[:n], self.source)


# --------------------------------------------------------------------------- bundled copy
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksums(data_dir: Path, names: Sequence[str] | None = None) -> None:
    """Check files against ``SHA256SUMS`` in ``data_dir``; raise ChecksumError on mismatch."""
    sums_path = data_dir / "SHA256SUMS"
    if not sums_path.is_file():
        raise ChecksumError(f"{sums_path} is missing; cannot verify the bundled data")
    expected = {}
    for line in sums_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            expected[name.strip().lstrip("*")] = digest
    for name in names or expected:
        if not (data_dir / name).is_file():
            raise ChecksumError(f"{data_dir / name} is missing; restore it from git")
        actual = sha256_file(data_dir / name)
        if actual != expected.get(name):
            raise ChecksumError(f"{data_dir / name}: sha256 {actual} does not match SHA256SUMS "
                                f"({expected.get(name)}); restore the file from git")


def read_goemotions_tsv(path: Path, label_names: Sequence[str] = GOEMOTIONS_LABELS,
                        name: str = "") -> Split:
    """Read a GoEmotions TSV: text, comma-separated label ids, comment id; no header.

    Parsed with ``csv.reader(delimiter="\\t")`` like Hugging Face's loader, so CSV-quoted
    texts (``\"\"\"I didn't...\"\" Oh look``) lose their quotes exactly as on the hub.
    """
    path = Path(path)
    texts, label_lists, ids = [], [], []
    n_labels = len(label_names)
    with open(path, encoding="utf-8", newline="") as f:
        for row_no, row in enumerate(csv.reader(f, delimiter="\t"), start=1):
            if len(row) != 3:
                raise DataError(f"expected 3 tab-separated fields (text, label ids, id), "
                                f"got {len(row)}", path=str(path), row=row_no)
            text, raw_ids, comment_id = row
            if not text.strip():
                raise DataError("empty text", path=str(path), row=row_no)
            try:
                idx = [int(x) for x in raw_ids.split(",")]
            except ValueError:
                raise DataError(f"label ids {raw_ids!r} are not comma-separated integers",
                                path=str(path), row=row_no) from None
            bad = [i for i in idx if not 0 <= i < n_labels]
            if bad:
                raise DataError(f"label id {bad[0]} out of range 0..{n_labels - 1}",
                                path=str(path), row=row_no)
            texts.append(text)
            label_lists.append([label_names[i] for i in idx])
            ids.append(comment_id)
    return Split(name or path.stem, texts, encode(label_lists, label_names), list(label_names),
                 ids, str(path))


def load_goemotions(data_dir: Path | None = None, verify: bool = True) -> dict[str, Split]:
    """The bundled train/dev/test splits, checksum-verified."""
    data_dir = Path(data_dir) if data_dir else goemotions_dir()
    if not data_dir.is_dir():
        raise DataError(f"GoEmotions folder not found: {data_dir} (set EMOTAG_DATA_DIR or "
                        "data.data_dir)")
    if verify:
        verify_checksums(data_dir, list(SPLIT_FILES.values()) + ["emotions.txt"])
    names = (data_dir / "emotions.txt").read_text(encoding="utf-8").split()
    if tuple(names) != GOEMOTIONS_LABELS:
        raise DataError("emotions.txt does not list the 28 GoEmotions labels in order",
                        path=str(data_dir / "emotions.txt"))
    return {split: read_goemotions_tsv(data_dir / fname, names, split)
            for split, fname in SPLIT_FILES.items()}


# --------------------------------------------------------------------------- hub
def load_hub(hub_id: str, config: str | None) -> dict[str, Split]:
    """GoEmotions-shaped dataset from the Hugging Face hub (needs network or a local cache)."""
    import datasets

    ds = datasets.load_dataset(hub_id, config)
    feature = ds["train"].features["labels"].feature
    names = list(feature.names)
    out = {}
    for split, hub_split in (("train", "train"), ("dev", "validation"), ("test", "test")):
        if hub_split not in ds:
            continue
        part = ds[hub_split]
        label_lists = [[names[i] for i in row] for row in part["labels"]]
        ids = [str(x) for x in part["id"]] if "id" in part.column_names else []
        out[split] = Split(split, list(part["text"]), encode(label_lists, names), names, ids,
                           f"{hub_id}/{config}:{hub_split}")
    return out


# --------------------------------------------------------------------------- user files
def read_records(path: Path) -> list[dict[str, Any]]:
    """Rows of a csv, tsv, jsonl or parquet file as dicts (row numbers are 1-based)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=str(path))
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        with open(path, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ","))
    if suffix in (".jsonl", ".json"):
        rows = []
        with open(path, encoding="utf-8") as f:
            for row_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"invalid JSON: {e.msg}", path=str(path), row=row_no) from None
                if not isinstance(obj, dict):
                    raise DataError("expected a JSON object per line", path=str(path), row=row_no)
                rows.append(obj)
        return rows
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as e:  # pragma: no cover - pyarrow is a dependency
            raise MissingDependencyError("reading parquet needs pyarrow: pip install pyarrow") \
                from e
        return pq.read_table(path).to_pylist()
    raise DataError(f"unsupported file type {suffix!r}; expected .csv, .tsv, .jsonl or .parquet",
                    path=str(path))


def parse_label_cell(value: Any, label_names: Sequence[str] | None, *, path: str,
                     row: int) -> list[str]:
    """A labels cell -> label names. Accepts a list, or a comma-separated string, of names or
    integer ids (ids need ``label_names``)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        raise DataError("missing labels", path=path, row=row)
    if isinstance(value, str):
        items: list[Any] = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list | tuple | np.ndarray):
        items = list(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    else:
        raise DataError(f"labels must be a list or a comma-separated string, got "
                        f"{type(value).__name__}", path=path, row=row)
    out = []
    for item in items:
        if isinstance(item, str) and item.lstrip("-").isdigit():
            item = int(item)
        if isinstance(item, int) and not isinstance(item, bool):
            if label_names is None:
                raise DataError(f"label id {item} needs data.label_names to be set", path=path,
                                row=row)
            if not 0 <= item < len(label_names):
                raise DataError(f"label id {item} out of range 0..{len(label_names) - 1}",
                                path=path, row=row)
            out.append(label_names[item])
        elif isinstance(item, str):
            if label_names is not None and item not in label_names:
                raise DataError(f"unknown label {item!r}; valid labels: "
                                f"{', '.join(label_names)}", path=path, row=row)
            out.append(item)
        else:
            raise DataError(f"label {item!r} is neither a name nor an integer id", path=path,
                            row=row)
    return out


def read_labelled_file(path: Path, *, text_column: str = "text", label_column: str = "labels",
                       id_column: str | None = None, label_names: Sequence[str] | None = None,
                       name: str = "") -> tuple[list[str], list[list[str]], list[str]]:
    """Texts, label-name lists and ids from a user file, validated row by row."""
    records = read_records(path)
    if not records:
        raise DataError("no rows", path=str(path))
    for col in (text_column, label_column) + ((id_column,) if id_column else ()):
        if col not in records[0]:
            raise DataError(f"missing column {col!r}; columns are {list(records[0])}",
                            path=str(path))
    texts, labels, ids = [], [], []
    for row_no, rec in enumerate(records, start=1):
        text = rec.get(text_column)
        if not isinstance(text, str):
            raise DataError(f"column {text_column!r} must be a string, got "
                            f"{type(text).__name__}", path=str(path), row=row_no)
        if not text.strip():
            raise DataError("empty text", path=str(path), row=row_no)
        texts.append(text)
        labels.append(parse_label_cell(rec.get(label_column), label_names, path=str(path),
                                       row=row_no))
        ids.append(str(rec[id_column]) if id_column else str(row_no))
    return texts, labels, ids


def load_files(cfg: DataConfig) -> dict[str, Split]:
    """User train/dev(/test) files with one shared label set."""
    files = {"train": cfg.train_file, "dev": cfg.validation_file, "test": cfg.test_file}
    parsed = {}
    for split, path in files.items():
        if path:
            parsed[split] = read_labelled_file(
                Path(path), text_column=cfg.text_column, label_column=cfg.label_column,
                id_column=cfg.id_column, label_names=cfg.label_names, name=split)
    names = cfg.label_names
    if names is None:
        # The training file defines the label set; a dev/test label outside it is an error
        # (reported by encode below), not a new column.
        seen = sorted({lab for row in parsed["train"][1] for lab in row})
        names = list(GOEMOTIONS_LABELS) if set(seen) <= set(GOEMOTIONS_LABELS) else seen
    out = {}
    for split, (texts, lists, ids) in parsed.items():
        try:
            matrix = encode(lists, names)
        except DataError as e:
            raise DataError(e.problem, path=files[split], row=e.row) from None
        out[split] = Split(split, texts, matrix, list(names), ids, str(files[split]))
    return out


def load_splits(cfg: DataConfig) -> dict[str, Split]:
    """The splits a config asks for, with ``max_*_samples`` applied."""
    if cfg.dataset == "goemotions":
        splits = load_goemotions(Path(cfg.data_dir) if cfg.data_dir else None,
                                 cfg.verify_checksums)
    elif cfg.dataset == "hub":
        splits = load_hub(cfg.hub_id, cfg.hub_config)
    else:
        splits = load_files(cfg)
    return {name: s.head(cfg.max_train_samples if name == "train" else cfg.max_eval_samples)
            for name, s in splits.items()}
