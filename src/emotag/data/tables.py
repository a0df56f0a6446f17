"""One reader for every table emotag reads: training files and files to score.

Formats come from the suffix (:data:`INPUT_FORMATS`): csv, tsv, jsonl (``.json`` too),
parquet, and txt (one text per line, column ``text``). Text formats are UTF-8, with or
without a byte-order mark, with LF or CRLF line ends. A file is read in :class:`Chunk` s so
that files far larger than memory can be scored (``emotag predict --input X --output Y``);
training reads every chunk. Each chunk keeps every input column, in file order, with its
values as read: CSV/TSV cells are strings exactly as written (an empty cell is an empty
string; CSV has no null), JSONL values keep their JSON types, Parquet its Arrow types.

What is not such a file stops with a :class:`~emotag.errors.DataError` that names the file,
the line (as an editor counts them, header = line 1; Parquet: the row) and the problem:
bytes that are not UTF-8, a CSV row with more or fewer fields than the header, a duplicate
column name, a JSON line that is not an object. ``.txt`` input keeps blank lines as rows,
so row N is line N. Writers for scored output are in :mod:`emotag.data.writers`.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

#: file suffix -> format name: the one format table (``.json`` is read as JSON lines)
INPUT_FORMATS = {".txt": "txt", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl",
                 ".json": "jsonl", ".parquet": "parquet"}
OUTPUT_FORMATS = {".txt": "txt", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl",
                  ".parquet": "parquet"}
TXT_COLUMN = "text"
MISSING = object()  #: what :meth:`Chunk.values` gives for a jsonl row without the key
_CSV_FIELD_LIMIT = 1 << 30  # csv's default (128 KiB per cell) would reject long texts


def file_format(path: Path, *, output: bool = False) -> str:
    """The format of ``path`` from its suffix, or a DataError listing the supported ones."""
    table = OUTPUT_FORMATS if output else INPUT_FORMATS
    fmt = table.get(Path(path).suffix.lower())
    if fmt is None:
        raise DataError(f"unsupported {'output' if output else 'input'} file type "
                        f"{Path(path).suffix!r}; expected {', '.join(sorted(set(table)))}",
                        path=str(path))
    return fmt


# --------------------------------------------------------------------------- chunks
@dataclass
class Chunk:
    """Consecutive data rows of an input file, every column kept as read.

    Exactly one payload is set: ``rows`` (csv, tsv, txt: lists of string cells, named by
    ``header``), ``records`` (jsonl: each object with its own keys) or ``table`` (parquet: a
    pyarrow Table, exact Arrow types). Plain lists, not a DataFrame: the base install has no
    pandas. ``start`` is the 0-based index of the first row among the file's data rows;
    ``lines`` the line each row starts on, as an editor counts them (header = line 1; None
    for Parquet, which has no lines).
    """

    start: int
    rows: list[list[str]] | None = None
    header: list[str] | None = None
    records: list[dict[str, Any]] | None = None
    table: Any = None
    lines: list[int] | None = None

    def __len__(self) -> int:
        if self.rows is not None:
            return len(self.rows)
        return len(self.records) if self.records is not None else self.table.num_rows

    def columns(self) -> list[str]:
        """Column names in order (jsonl: every key of the chunk, in order of appearance)."""
        if self.rows is not None:
            return list(self.header or [])
        if self.records is not None:
            return list(dict.fromkeys(k for rec in self.records for k in rec))
        return [str(c) for c in self.table.column_names]

    def slice(self, offset: int) -> Chunk:
        """The rows from ``offset`` on (a resumed run skips the rows already written)."""
        start = self.start + offset
        lines = self.lines[offset:] if self.lines is not None else None
        if self.rows is not None:
            return Chunk(start, rows=self.rows[offset:], header=self.header, lines=lines)
        if self.records is not None:
            return Chunk(start, records=self.records[offset:], lines=lines)
        return Chunk(start, table=self.table.slice(offset))

    def line(self, i: int) -> int | None:
        """The line the chunk's row ``i`` (0-based) starts on; None for Parquet."""
        return self.lines[i] if self.lines is not None else None

    def error(self, problem: str, i: int, path: Path) -> DataError:
        """A DataError about the chunk's row ``i`` (0-based): file, row and line."""
        return DataError(problem, path=str(path), row=self.start + i + 1, line=self.line(i))

    def values(self, column: str, path: Path) -> list[Any]:
        """The ``column`` values as read (jsonl: a row without the key gives ``MISSING``);
        a column the file lacks is a DataError listing the columns it has."""
        if self.records is not None:
            return [rec.get(column, MISSING) for rec in self.records]
        if column not in self.columns():
            cols = self.columns()
            hint = ("; is the file separated by another character than the suffix says?"
                    if len(cols) == 1 and any(c in cols[0] for c in ",;\t|") else "")
            raise DataError(f"missing column {column!r}; columns are {cols}{hint}",
                            path=str(path), row=self.start + 1,
                            line=1 if self.rows is not None else None)
        if self.rows is not None:
            j = self.columns().index(column)
            return [row[j] for row in self.rows]
        return self.table.column(column).to_pylist()

    def texts(self, column: str, path: Path) -> list[str]:
        """The ``column`` values as str; a missing column, null or non-string value is a
        DataError naming the file, the row and its line."""
        values = self.values(column, path)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise self.error(_bad_text(value, column), i, path)
        return values

    def as_records(self) -> list[dict[str, Any]]:
        """Rows as dicts (jsonl output)."""
        if self.records is not None:
            return self.records
        if self.rows is not None:
            header = self.columns()
            return [dict(zip(header, row, strict=True)) for row in self.rows]
        return self.table.to_pylist()


def _bad_text(value: Any, column: str) -> str:
    if value is MISSING:
        return f"no {column!r} key in this row"
    if value is None or (isinstance(value, float) and np.isnan(value)) or is_na(value):
        return f"column {column!r} is null; every row needs a text (an empty string is fine)"
    return f"column {column!r} must be a string, got {type(value).__name__} ({value!r:.40})"


def is_na(value: Any) -> bool:
    """pandas' NA or NaT. emotag never imports pandas (the base install lacks it); such a
    value can only exist where the caller's process has imported it."""
    pd = sys.modules.get("pandas")
    return pd is not None and (value is pd.NA or value is pd.NaT)


# --------------------------------------------------------------------------- readers
def iter_chunks(path: Path, chunk_size: int) -> Iterator[Chunk]:
    """Chunks of at most ``chunk_size`` data rows, in file order.

    At least one chunk is yielded (possibly empty), so the columns of a file without data
    rows are known too. Parse errors are DataErrors naming the file and the line.
    """
    path = Path(path)
    fmt = file_format(path)
    if not path.is_file():
        raise DataError("file not found", path=str(path))
    size = max(1, int(chunk_size))
    readers = {"txt": _txt_chunks, "csv": _csv_chunks, "tsv": _csv_chunks,
               "jsonl": _jsonl_chunks, "parquet": _parquet_chunks}
    try:
        yield from readers[fmt](path, size)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None


def count_rows(path: Path) -> int | None:
    """Data rows of a Parquet file (from its footer); None for text formats (unknown
    without reading the whole file)."""
    if file_format(path) != "parquet":
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _not_utf8(path: Path) -> DataError:
    """Where the first byte that is not UTF-8 is (only called once decoding failed)."""
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return DataError(f"not UTF-8 text: byte 0x{raw[e.start]:02x} at character "
                                 f"{len(raw[:e.start].decode('utf-8', 'replace')) + 1}; save "
                                 "the file as UTF-8 (Excel: 'CSV UTF-8')", path=str(path),
                                 line=line_no)
    return DataError("not UTF-8 text", path=str(path))  # pragma: no cover


def _txt_chunks(path: Path, size: int) -> Iterator[Chunk]:
    start, lines = 0, []
    with open(path, encoding="utf-8-sig", newline=None) as f:
        for line in f:
            lines.append(line.rstrip("\n"))
            if len(lines) == size:
                yield Chunk(start, rows=[[t] for t in lines], header=[TXT_COLUMN],
                            lines=list(range(start + 1, start + size + 1)))
                start, lines = start + size, []
    if lines or start == 0:
        yield Chunk(start, rows=[[t] for t in lines], header=[TXT_COLUMN],
                    lines=list(range(start + 1, start + len(lines) + 1)))


def _csv_chunks(path: Path, size: int) -> Iterator[Chunk]:
    """csv.reader: it reports the line of every row (quoted cells may span lines) and a row
    with too few fields (pandas' reader pads it with nulls)."""
    kind = path.suffix.lower()[1:]
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t" if kind == "tsv" else ",")
        try:
            header = next((row for row in reader if row), None)
            if header is None:
                raise DataError("empty file: expected a header line", path=str(path))
            dupes = sorted({c for c in header if header.count(c) > 1})
            if dupes:
                raise DataError(f"duplicate column names {dupes} in the header",
                                path=str(path), line=reader.line_num)
            start, rows, lines, prev = 0, [], [], reader.line_num
            for row in reader:
                if not row:  # a blank line
                    prev = reader.line_num
                    continue
                if len(row) != len(header):
                    raise DataError(f"{len(row)} fields, but the header has {len(header)} "
                                    f"({', '.join(header)}); quote cells that contain "
                                    f"{'tabs' if kind == 'tsv' else 'commas'}",
                                    path=str(path), row=start + len(rows) + 1, line=prev + 1)
                rows.append(row)
                lines.append(prev + 1)
                prev = reader.line_num
                if len(rows) == size:
                    yield Chunk(start, rows=rows, header=header, lines=lines)
                    start, rows, lines = start + size, [], []
        except csv.Error as e:
            raise DataError(f"cannot parse as {kind}: {e}", path=str(path),
                            line=reader.line_num) from None
    if rows or start == 0:
        yield Chunk(start, rows=rows, header=header, lines=lines)


def _jsonl_chunks(path: Path, size: int) -> Iterator[Chunk]:
    start, records, lines = 0, [], []
    with open(path, encoding="utf-8-sig") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            records.append(_json_object(line, path, start + len(records) + 1, line_no))
            lines.append(line_no)
            if len(records) == size:
                yield Chunk(start, records=records, lines=lines)
                start, records, lines = start + size, [], []
    if records or start == 0:
        yield Chunk(start, records=records, lines=lines)


def _json_object(line: str, path: Path, row: int, line_no: int) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON: {e.msg} (character {e.colno})", path=str(path),
                        row=row, line=line_no) from None
    if not isinstance(obj, dict):
        raise DataError("expected a JSON object per line", path=str(path), row=row,
                        line=line_no)
    return obj


def _parquet_chunks(path: Path, size: int) -> Iterator[Chunk]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"cannot read as parquet ({e})", path=str(path)) from None
    start = 0
    for batch in pf.iter_batches(batch_size=size):
        yield Chunk(start, table=pa.Table.from_batches([batch]))
        start += batch.num_rows
    if start == 0:
        yield Chunk(0, table=pf.schema_arrow.empty_table())
