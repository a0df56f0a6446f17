"""Reading labelled splits: the bundled GoEmotions copy, the hub dataset, and user files.

Every loader returns :class:`Split` objects (texts + a multi-hot matrix in label order), so
models, thresholds and reports never care where the data came from. Bad rows stop the run
with a :class:`~emotag.errors.DataError` naming the file, the row and the problem.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import GOEMOTIONS_NAME, DataConfig
from ..errors import ChecksumError, DataError, DataWarning
from ..labels import GOEMOTIONS_LABELS, encode
from ..resources import goemotions_dir
from ..utils.files import sha256_file
from .tables import MISSING, iter_chunks

READ_CHUNK_ROWS = 50_000

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
    """Rows of a csv, tsv, jsonl or parquet file as dicts, read by the one table reader
    (:func:`emotag.data.tables.iter_chunks`)."""
    return [rec for chunk in iter_chunks(Path(path), READ_CHUNK_ROWS)
            for rec in chunk.as_records()]


def parse_label_cell(value: Any, label_names: Sequence[str] | None, *, path: str,
                     row: int, line: int | None = None) -> list[str]:
    """A labels cell -> label names. Accepts a list, or a comma-separated string, of names or
    integer ids (ids need ``label_names``). An empty cell is a text with no label."""
    def error(problem: str) -> DataError:
        return DataError(problem, path=path, row=row, line=line)

    if value is MISSING or value is None or (isinstance(value, float) and np.isnan(value)):
        raise error("missing labels (an empty cell means no label; null is not allowed)")
    if isinstance(value, str):
        items: list[Any] = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list | tuple | np.ndarray):
        items = list(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    else:
        raise error(f"labels must be a list or a comma-separated string, got "
                    f"{type(value).__name__}")
    out = []
    for item in items:
        if isinstance(item, str) and item.lstrip("-").isdigit():
            item = int(item)
        if isinstance(item, int) and not isinstance(item, bool):
            if label_names is None:
                raise error(f"label id {item} needs data.label_names to be set (the order "
                            "the ids refer to)")
            if not 0 <= item < len(label_names):
                raise error(f"label id {item} out of range 0..{len(label_names) - 1}")
            out.append(label_names[item])
        elif isinstance(item, str):
            if label_names is not None and item not in label_names:
                raise error(f"unknown label {item!r}; valid labels: {', '.join(label_names)}")
            out.append(item)
        else:
            raise error(f"label {item!r} is neither a name nor an integer id")
    return out


@dataclass
class LabelledFile:
    """A user file as read: texts, label-name lists, ids and each row's line (None for
    Parquet) so later checks can still say where a row is."""

    path: str
    texts: list[str]
    labels: list[list[str]]
    ids: list[str]
    lines: list[int | None]

    def error(self, problem: str, i: int) -> DataError:
        return DataError(problem, path=self.path, row=i + 1, line=self.lines[i])


def read_labelled_file(path: Path, *, text_column: str = "text", label_column: str = "labels",
                       id_column: str | None = None,
                       label_names: Sequence[str] | None = None) -> LabelledFile:
    """Texts, label-name lists and ids from a user file, validated row by row."""
    path = Path(path)
    out = LabelledFile(str(path), [], [], [], [])
    for chunk in iter_chunks(path, READ_CHUNK_ROWS):
        texts = chunk.texts(text_column, path)
        cells = chunk.values(label_column, path)
        ids = chunk.values(id_column, path) if id_column else None
        for i, text in enumerate(texts):
            if not text.strip():
                raise chunk.error("empty text", i, path)
            row, line = chunk.start + i + 1, chunk.line(i)
            out.labels.append(parse_label_cell(cells[i], label_names, path=str(path),
                                               row=row, line=line))
            if ids is not None and (ids[i] is MISSING or ids[i] is None):
                raise chunk.error(f"missing id in column {id_column!r}", i, path)
            out.ids.append(str(ids[i]) if ids is not None else str(row))
            out.lines.append(line)
        out.texts.extend(texts)
    if not out.texts:
        raise DataError("no rows", path=str(path))
    return out


def resolve_label_names(cfg: DataConfig, train: LabelledFile) -> list[str]:
    """The label set of a files run: ``data.label_names`` as given (``goemotions``: the 28
    GoEmotions labels in their order), else the training file's labels, sorted."""
    if cfg.label_names == GOEMOTIONS_NAME:
        return list(GOEMOTIONS_LABELS)
    if cfg.label_names is not None:
        return list(cfg.label_names)
    return sorted({lab for row in train.labels for lab in row})


def load_files(cfg: DataConfig) -> dict[str, Split]:
    """User train/dev(/test) files with one shared label set (:func:`resolve_label_names`).

    A dev/test label outside the set is an error naming its file and line, never a new
    column."""
    files = {"train": cfg.train_file, "dev": cfg.validation_file, "test": cfg.test_file}
    given = (list(GOEMOTIONS_LABELS) if cfg.label_names == GOEMOTIONS_NAME
             else cfg.label_names)
    parsed = {split: read_labelled_file(Path(path), text_column=cfg.text_column,
                                        label_column=cfg.label_column,
                                        id_column=cfg.id_column, label_names=given)
              for split, path in files.items() if path}
    names = resolve_label_names(cfg, parsed["train"])
    if not names:
        raise DataError("no labels in the training file (every labels cell is empty)",
                        path=str(files["train"]))
    known = set(names)
    out = {}
    for split, f in parsed.items():
        for i, row in enumerate(f.labels):
            bad = [lab for lab in row if lab not in known]
            if bad:
                raise f.error(f"unknown label {bad[0]!r}: not in the training file's labels "
                              f"({', '.join(names)}); fix the typo, or list every label in "
                              "data.label_names", i)
        out[split] = Split(split, f.texts, encode(f.labels, names), list(names), f.ids,
                           f.path)
    return out


def warn_unseen_labels(train: Split) -> list[str]:
    """Labels of the set with no training example: warned about (a
    :class:`~emotag.errors.DataWarning`) and returned. Every model still trains (they score
    near 0), but their F1 is 0 and they pull macro-F1 down. Called by training on the split
    it trains on (after ``max_train_samples``), not by evaluation."""
    unseen = [name for name, n in zip(train.label_names, np.asarray(train.labels).sum(axis=0),
                                      strict=True) if n == 0]
    if unseen:
        warnings.warn(f"{train.source}: {len(unseen)} of {len(train.label_names)} labels have "
                      f"no training example: {', '.join(unseen)}. They will score near 0 and "
                      "count as F1 0 in macro-F1; add examples, or leave them out of "
                      "data.label_names", DataWarning, stacklevel=2)
    return unseen


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
