"""Resumable writers for batch scoring: csv, tsv (and txt, written as TSV), jsonl, parquet.

Why these writers: an interrupted run (Ctrl-C, ``kill -9``) must be resumable without
duplicated or lost rows. Text formats append to ``Y.partial``; after each chunk
:meth:`ChunkWriter.commit` flushes and fsyncs and returns the byte offset, which the caller
records; a resumed run truncates the partial file back to that offset. Parquet cannot be
appended to (its footer comes last), so each chunk becomes one part file in ``Y.parts/``
(written atomically) and :meth:`ChunkWriter.finish` assembles the parts into ``Y``, row
group by row group. Nothing is published at ``Y`` before the last row is written.

Text outputs write scores rounded to 7 decimals (|error| <= 5e-8); Parquet keeps float32.
CSV/TSV are written by the standard library's ``csv`` module, Parquet by pyarrow: no pandas,
which the base install lacks. The input side (formats, :class:`~emotag.data.tables.Chunk`)
is :mod:`emotag.data.tables`.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import json
import math
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, ResumeError
from ..utils.files import atomic_output, fsync_dir
from .tables import Chunk, file_format, is_na

SCORE_DECIMALS = 7


# --------------------------------------------------------------------------- chunks as tables
def chunk_rows(chunk: Chunk, columns: Sequence[str], path: Path) -> list[list[Any]]:
    """Rows as lists of cells in ``columns`` order (csv/tsv output; None: an empty cell).

    Nested values (lists, dicts) become JSON text. A jsonl key outside ``columns`` (the
    first row's keys) is a DataError: a table needs the same columns in every row.
    """
    if chunk.rows is not None:
        return chunk.rows
    if chunk.table is not None:
        cells = [_arrow_cells(col) for col in chunk.table.columns]
        return [list(r) for r in zip(*cells, strict=True)] if cells else [[]] * len(chunk)
    _check_keys(chunk.records, columns, chunk.start, path, chunk.lines)
    return [[_json_cell(r.get(c)) for c in columns] for r in chunk.records]


def chunk_table(chunk: Chunk, columns: Sequence[str], path: Path) -> Any:
    """Rows as a pyarrow Table with ``columns`` (parquet output; csv/tsv/txt cells: strings)."""
    import pyarrow as pa

    if chunk.table is not None:
        return chunk.table
    if chunk.rows is not None:
        return pa.table({c: pa.array([row[j] for row in chunk.rows], type=pa.string())
                         for j, c in enumerate(chunk.columns())})
    _check_keys(chunk.records, columns, chunk.start, path, chunk.lines)
    try:
        return pa.table({c: pa.array([r.get(c) for r in chunk.records]) for c in columns})
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise DataError(f"rows {chunk.start + 1}..{chunk.start + len(chunk)}: values of one "
                        f"key have mixed types, which Parquet cannot hold ({e})",
                        path=str(path)) from None


def _is_nested(arrow_type: Any) -> bool:
    import pyarrow as pa

    return (pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
            or pa.types.is_struct(arrow_type) or pa.types.is_map(arrow_type)
            or pa.types.is_fixed_size_list(arrow_type))


def _arrow_cells(column: Any) -> list[Any]:
    """A pyarrow column as CSV cells: Python values (nulls None), nested ones as JSON text."""
    if _is_nested(column.type):
        return [_json_cell(v) for v in column.to_pylist()]
    try:
        return column.to_pylist()
    except ValueError:  # nanosecond times that datetime cannot hold (pyarrow without pandas)
        import pyarrow.compute as pc

        return pc.cast(column, "string").to_pylist()


def _json_cell(value: Any) -> Any:
    """Nested values as JSON text (for CSV cells); NaN and NA as None (an empty cell);
    other scalars unchanged."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=json_default)
    if (isinstance(value, float) and math.isnan(value)) or is_na(value):
        return None
    return value


def _check_keys(records: list[dict[str, Any]], columns: Sequence[str], start: int,
                path: Path, lines: list[int] | None = None) -> None:
    allowed = set(columns)
    for i, rec in enumerate(records):
        extra = [k for k in rec if k not in allowed]
        if extra:
            raise DataError(f"keys {extra} are not among the first row's keys {list(columns)};"
                            " csv/tsv/parquet output needs the same columns in every row "
                            "(write .jsonl instead, or add the keys to the first row)",
                            path=str(path), row=start + i + 1,
                            line=lines[i] if lines is not None else None)


def json_default(value: Any) -> Any:
    """JSON for the values pyarrow and numpy hand back (numbers, dates, bytes, NA)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if is_na(value):
        return None
    return str(value)


# --------------------------------------------------------------------------- writers
def partial_path(output: Path) -> Path:
    """Where an unfinished run writes: ``Y.partial`` (text formats) or ``Y.parts/``."""
    output = Path(output)
    suffix = ".parts" if file_format(output, output=True) == "parquet" else ".partial"
    return output.with_name(output.name + suffix)


class ChunkWriter(ABC):
    """Appends scored chunks to a partial output that survives interruption.

    ``state`` is what :meth:`commit` returned last (None: a fresh start); the writer
    discards anything written after it.
    """

    def __init__(self, output: Path, input_path: Path, state: dict[str, Any] | None) -> None:
        self.output = Path(output)
        self.input_path = Path(input_path)
        self.partial = partial_path(self.output)
        self.columns: list[str] | None = None  # the input columns of a tabular output

    @abstractmethod
    def write(self, chunk: Chunk, added: dict[str, Any]) -> None:
        """Write the chunk's rows followed by the ``added`` columns."""

    @abstractmethod
    def commit(self) -> dict[str, Any]:
        """Make every row written so far durable; the state to resume from."""

    @abstractmethod
    def finish(self) -> None:
        """Publish the complete output at ``output`` (atomically) and remove the partial."""

    def close(self) -> None:  # noqa: B027 - optional hook: only TextWriter holds a file
        """Release open files (the partial output stays for a later resume)."""

    def set_columns(self, chunk: Chunk) -> None:
        """Fix the input columns from the first chunk (jsonl: the first row's keys)."""
        if self.columns is None:
            if chunk.records is not None:
                self.columns = list(chunk.records[0]) if chunk.records else []
            else:
                self.columns = chunk.columns()


def open_writer(output: Path, input_path: Path, state: dict[str, Any] | None) -> ChunkWriter:
    """The writer for ``output``'s format."""
    fmt = file_format(output, output=True)
    if fmt == "parquet":
        return ParquetPartsWriter(output, input_path, state)
    return TextWriter(output, input_path, state, fmt)


def scores_for_text(added: dict[str, Any]) -> dict[str, Any]:
    """Added columns for a text format: score columns rounded to ``SCORE_DECIMALS``."""
    return {k: (np.round(np.asarray(v, dtype=np.float64), SCORE_DECIMALS)
                if isinstance(v, np.ndarray) else v) for k, v in added.items()}


class TextWriter(ChunkWriter):
    """csv, tsv (and txt, written as TSV) or jsonl, appended to ``Y.partial``."""

    def __init__(self, output: Path, input_path: Path, state: dict[str, Any] | None,
                 fmt: str) -> None:
        super().__init__(output, input_path, state)
        self.fmt = fmt
        offset = int((state or {}).get("offset", 0))
        self.header_written = offset > 0
        if state is None:
            self.partial.unlink(missing_ok=True)
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.partial, "ab")  # noqa: SIM115 - kept open across chunks
        fsync_dir(self.partial.parent)
        if self._file.seek(0, os.SEEK_END) < offset:
            self._file.close()
            raise ResumeError(f"{self.partial} is shorter than its progress file says "
                              f"({offset} bytes); delete it and its .progress.json to start "
                              "over")
        self._file.truncate(offset)  # drop what was written after the last commit
        self._file.seek(offset)
        if state is not None and "columns" in state:
            self.columns = list(state["columns"])

    def write(self, chunk: Chunk, added: dict[str, Any]) -> None:
        added = scores_for_text(added)
        if self.fmt == "jsonl":
            self._file.write(_jsonl_lines(chunk.as_records(), added).encode("utf-8"))
            return
        self.set_columns(chunk)
        columns = self.columns or []
        if chunk.records is None and chunk.columns() != columns:
            raise DataError(f"columns {chunk.columns()} differ from the first chunk's "
                            f"{columns}", path=str(self.input_path), row=chunk.start + 1)
        rows = chunk_rows(chunk, columns, self.input_path)
        self._file.write(_csv_text(rows, columns, added, header=not self.header_written,
                                   sep="," if self.fmt == "csv" else "\t").encode("utf-8"))
        self.header_written = True

    def commit(self) -> dict[str, Any]:
        self._file.flush()
        os.fsync(self._file.fileno())
        state: dict[str, Any] = {"offset": self._file.tell()}
        if self.columns is not None:
            state["columns"] = self.columns
        return state

    def finish(self) -> None:
        self.commit()
        self._file.close()
        os.replace(self.partial, self.output)  # already fsynced by commit()
        fsync_dir(self.output.parent)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def _csv_text(rows: list[list[Any]], columns: Sequence[str], added: dict[str, Any], *,
              header: bool, sep: str) -> str:
    """CSV/TSV text of ``rows`` followed by the ``added`` columns: minimal quoting, "\\n"
    line ends, None as an empty cell, floats as repr() (the bytes pandas' to_csv wrote)."""
    extra = [v.tolist() if isinstance(v, np.ndarray) else list(v) for v in added.values()]
    extra_rows = list(zip(*extra, strict=True)) if extra else [()] * len(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    if header:
        writer.writerow([*columns, *added])
    writer.writerows([*row, *more] for row, more in zip(rows, extra_rows, strict=True))
    return buffer.getvalue()


def _jsonl_lines(records: list[dict[str, Any]], added: dict[str, Any]) -> str:
    names = list(added)
    values = [v.tolist() if isinstance(v, np.ndarray) else list(v) for v in added.values()]
    lines = []
    for i, rec in enumerate(records):
        row = dict(rec)
        row.update(zip(names, (col[i] for col in values), strict=True))
        lines.append(json.dumps(row, ensure_ascii=False, default=json_default))
    return "".join(line + "\n" for line in lines)


class ParquetPartsWriter(ChunkWriter):
    """One Parquet part file per chunk in ``Y.parts/``; :meth:`finish` joins them into Y."""

    def __init__(self, output: Path, input_path: Path, state: dict[str, Any] | None) -> None:
        super().__init__(output, input_path, state)
        if state is None:
            shutil.rmtree(self.partial, ignore_errors=True)
        self.partial.mkdir(parents=True, exist_ok=True)
        self.n_parts = int((state or {}).get("parts", 0))
        for extra in self.partial.iterdir():  # parts renamed in after the last commit
            if not (extra.name.startswith("part-") and _part_index(extra) < self.n_parts):
                extra.unlink()
        self.schema = None
        if self.n_parts:
            import pyarrow.parquet as pq

            self.schema = pq.read_schema(self._part(0))
            self.columns = list((state or {}).get("columns") or [])

    def _part(self, i: int) -> Path:
        return self.partial / f"part-{i:06d}.parquet"

    def write(self, chunk: Chunk, added: dict[str, Any]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.set_columns(chunk)
        table = chunk_table(chunk, self.columns or [], self.input_path)
        for name, values in added.items():
            arr = (pa.array(values, type=pa.float32()) if isinstance(values, np.ndarray)
                   else pa.array(values, type=pa.string()))
            table = table.append_column(name, arr)
        table = table.replace_schema_metadata(None)
        if self.schema is None:
            self.schema = table.schema
        elif not table.schema.equals(self.schema):
            try:
                table = table.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as e:
                raise DataError(f"rows {chunk.start + 1}..{chunk.start + len(chunk)}: column "
                                f"types differ from the first rows' ({e})",
                                path=str(self.input_path)) from None
        with atomic_output(self._part(self.n_parts)) as tmp:
            pq.write_table(table, tmp)
        self.n_parts += 1

    def commit(self) -> dict[str, Any]:
        state: dict[str, Any] = {"parts": self.n_parts}
        if self.columns is not None:
            state["columns"] = self.columns
        return state

    def finish(self) -> None:
        import pyarrow.parquet as pq

        with atomic_output(self.output) as tmp:
            writer = None
            try:
                for i in range(self.n_parts):
                    part = pq.ParquetFile(self._part(i))
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, part.schema_arrow)
                    for g in range(part.num_row_groups):  # one row group in memory at a time
                        writer.write_table(part.read_row_group(g))
            finally:
                if writer is not None:
                    writer.close()
        shutil.rmtree(self.partial, ignore_errors=True)


def _part_index(path: Path) -> int:
    try:
        return int(path.name.removeprefix("part-").removesuffix(".parquet"))
    except ValueError:
        return 1 << 62
