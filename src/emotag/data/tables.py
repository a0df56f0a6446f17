"""Chunked readers and resumable writers for batch scoring: txt, csv, tsv, jsonl, parquet.

Why chunks: ``emotag predict --input X --output Y`` must handle files far larger than memory,
so a file is never read whole. CSV/TSV go through ``pandas.read_csv(chunksize=...)``, Parquet
through ``ParquetFile.iter_batches``, JSONL and txt line by line. Each :class:`Chunk` keeps
every input column, in file order, with its values as read.

Why these writers: an interrupted run (Ctrl-C, ``kill -9``) must be resumable without
duplicated or lost rows. Text formats append to ``Y.partial``; after each chunk
:meth:`ChunkWriter.commit` flushes and fsyncs and returns the byte offset, which the caller
records; a resumed run truncates the partial file back to that offset. Parquet cannot be
appended to (its footer comes last), so each chunk becomes one part file in ``Y.parts/``
(written to a temp name and renamed) and :meth:`ChunkWriter.finish` assembles the parts into
``Y``, row group by row group. Nothing is published at ``Y`` before the last row is written.

Formats: ``.txt`` input is one text per line (column ``text``; every line is a row, blank
ones too, so row N is line N); ``.txt`` output is written as TSV. CSV/TSV cells are read as
strings, exactly as written (an empty cell is an empty text; CSV has no null); a UTF-8
byte order mark at the start of a text file is skipped. Text outputs write scores rounded
to 7 decimals (|error| <= 5e-8); Parquet keeps float32.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

#: file suffix -> format name (``.json`` input is read as JSON lines, like ``read_records``)
INPUT_FORMATS = {".txt": "txt", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl",
                 ".json": "jsonl", ".parquet": "parquet"}
OUTPUT_FORMATS = {".txt": "txt", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl",
                  ".parquet": "parquet"}
TXT_COLUMN = "text"
SCORE_DECIMALS = 7
_MISSING = object()


def file_format(path: Path, *, output: bool = False) -> str:
    """The format of ``path`` from its suffix, or a DataError listing the supported ones."""
    table = OUTPUT_FORMATS if output else INPUT_FORMATS
    fmt = table.get(Path(path).suffix.lower())
    if fmt is None:
        raise DataError(f"unsupported {'output' if output else 'input'} file type "
                        f"{Path(path).suffix!r}; expected {', '.join(sorted(set(table)))}",
                        path=str(path))
    return fmt


# =========================================================================== chunks
@dataclass
class Chunk:
    """Consecutive data rows of an input file, every column kept as read.

    Exactly one payload is set: ``frame`` (csv, tsv, txt: string columns), ``records``
    (jsonl: each object with its own keys) or ``table`` (parquet: exact Arrow types).
    ``start`` is the 0-based index of the first row among the file's data rows.
    """

    start: int
    frame: Any = None
    records: list[dict[str, Any]] | None = None
    table: Any = None

    def __len__(self) -> int:
        if self.records is not None:
            return len(self.records)
        return len(self.frame) if self.frame is not None else self.table.num_rows

    def columns(self) -> list[str]:
        """Column names in order (jsonl: every key of the chunk, in order of appearance)."""
        if self.records is not None:
            return list(dict.fromkeys(k for rec in self.records for k in rec))
        return [str(c) for c in (self.frame.columns if self.frame is not None
                                 else self.table.column_names)]

    def slice(self, offset: int) -> Chunk:
        """The rows from ``offset`` on (a resumed run skips the rows already written)."""
        start = self.start + offset
        if self.records is not None:
            return Chunk(start, records=self.records[offset:])
        if self.frame is not None:
            return Chunk(start, frame=self.frame.iloc[offset:].reset_index(drop=True))
        return Chunk(start, table=self.table.slice(offset))

    def texts(self, column: str, path: Path) -> list[str]:
        """The ``column`` values as str; a missing column, null or non-string value is a
        DataError naming the file and the 1-based data row."""
        if self.records is not None:
            values = [rec.get(column, _MISSING) for rec in self.records]
        elif column not in self.columns():
            raise DataError(f"missing column {column!r}; columns are {self.columns()}",
                            path=str(path), row=self.start + 1)
        elif self.frame is not None:
            values = self.frame[column].tolist()
        else:
            values = self.table.column(column).to_pylist()
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise DataError(_bad_text(value, column), path=str(path),
                                row=self.start + i + 1)
        return values

    def as_records(self) -> list[dict[str, Any]]:
        """Rows as dicts (jsonl output)."""
        if self.records is not None:
            return self.records
        if self.frame is not None:
            return self.frame.to_dict("records")
        return self.table.to_pylist()

    def as_frame(self, columns: Sequence[str], path: Path) -> Any:
        """Rows as a pandas DataFrame with exactly ``columns`` (csv/tsv output).

        Nested values (lists, dicts) become JSON text. A jsonl key outside ``columns`` (the
        first row's keys) is a DataError: a table needs the same columns in every row.
        """
        import pandas as pd

        if self.frame is not None:
            return self.frame
        if self.table is not None:
            frame = self.table.to_pandas(types_mapper=pd.ArrowDtype)
            for name, col in zip(self.table.column_names, self.table.columns, strict=True):
                if _is_nested(col.type):
                    frame[name] = pd.Series([_json_cell(v) for v in col.to_pylist()],
                                            dtype=object)
            return frame
        _check_keys(self.records, columns, self.start, path)
        return pd.DataFrame({c: pd.Series([_json_cell(r.get(c)) for r in self.records],
                                          dtype=object) for c in columns})

    def as_table(self, columns: Sequence[str], path: Path) -> Any:
        """Rows as a pyarrow Table with ``columns`` (parquet output)."""
        import pyarrow as pa

        if self.table is not None:
            return self.table
        if self.frame is not None:
            return pa.Table.from_pandas(self.frame, preserve_index=False)
        _check_keys(self.records, columns, self.start, path)
        try:
            return pa.table({c: pa.array([r.get(c) for r in self.records]) for c in columns})
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise DataError(f"rows {self.start + 1}..{self.start + len(self)}: values of one "
                            f"key have mixed types, which Parquet cannot hold ({e})",
                            path=str(path)) from None


def _bad_text(value: Any, column: str) -> str:
    if value is _MISSING:
        return f"no {column!r} key in this row"
    if value is None or (isinstance(value, float) and np.isnan(value)) or _is_na(value):
        return f"column {column!r} is null; every row needs a text (an empty string is fine)"
    return f"column {column!r} must be a string, got {type(value).__name__} ({value!r:.40})"


def _is_na(value: Any) -> bool:
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def _is_nested(arrow_type: Any) -> bool:
    import pyarrow as pa

    return (pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
            or pa.types.is_struct(arrow_type) or pa.types.is_map(arrow_type)
            or pa.types.is_fixed_size_list(arrow_type))


def _json_cell(value: Any) -> Any:
    """Nested values as JSON text (for CSV cells); scalars unchanged."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=json_default)
    return value


def _check_keys(records: list[dict[str, Any]], columns: Sequence[str], start: int,
                path: Path) -> None:
    allowed = set(columns)
    for i, rec in enumerate(records):
        extra = [k for k in rec if k not in allowed]
        if extra:
            raise DataError(f"keys {extra} are not among the first row's keys {list(columns)};"
                            " csv/tsv/parquet output needs the same columns in every row "
                            "(write .jsonl instead, or add the keys to the first row)",
                            path=str(path), row=start + i + 1)


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
    if _is_na(value):
        return None
    return str(value)


# =========================================================================== readers
def iter_chunks(path: Path, chunk_size: int) -> Iterator[Chunk]:
    """Chunks of at most ``chunk_size`` data rows, in file order.

    At least one chunk is yielded (possibly empty), so the columns of a file without data
    rows are known too. Parse errors are DataErrors naming the file (and row when known).
    """
    path = Path(path)
    fmt = file_format(path)
    if not path.is_file():
        raise DataError("file not found", path=str(path))
    size = max(1, int(chunk_size))
    readers = {"txt": _txt_chunks, "csv": _csv_chunks, "tsv": _csv_chunks,
               "jsonl": _jsonl_chunks, "parquet": _parquet_chunks}
    yield from readers[fmt](path, size)


def count_rows(path: Path) -> int | None:
    """Data rows of a Parquet file (from its footer); None for text formats (unknown
    without reading the whole file)."""
    if file_format(path) != "parquet":
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _txt_chunks(path: Path, size: int) -> Iterator[Chunk]:
    import pandas as pd

    start, lines = 0, []
    with open(path, encoding="utf-8-sig", newline=None) as f:
        try:
            for line in f:
                lines.append(line.rstrip("\n"))
                if len(lines) == size:
                    yield Chunk(start, frame=pd.DataFrame({TXT_COLUMN: lines}, dtype=object))
                    start, lines = start + size, []
        except UnicodeDecodeError as e:
            raise DataError(f"not UTF-8 text ({e.reason})", path=str(path),
                            row=start + len(lines) + 1) from None
    if lines or start == 0:
        yield Chunk(start, frame=pd.DataFrame({TXT_COLUMN: lines}, dtype=object))


def _csv_chunks(path: Path, size: int) -> Iterator[Chunk]:
    import pandas as pd

    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        reader = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, chunksize=size,
                             encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError("empty file: expected a header line", path=str(path)) from None
    start = 0
    with reader:
        while True:
            try:
                frame = next(reader)
            except StopIteration:
                break
            except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
                raise DataError(f"cannot parse as {path.suffix.lower()[1:]} after data row "
                                f"{start} ({e})", path=str(path)) from None
            yield Chunk(start, frame=frame.reset_index(drop=True))
            start += len(frame)


def _jsonl_chunks(path: Path, size: int) -> Iterator[Chunk]:
    start, records = 0, []
    with open(path, encoding="utf-8-sig") as f:
        line_no = 0
        try:
            for line_no, line in enumerate(f, start=1):  # noqa: B007 - used after the loop
                if not line.strip():
                    continue
                records.append(_json_object(line, path, start + len(records) + 1, line_no))
                if len(records) == size:
                    yield Chunk(start, records=records)
                    start, records = start + size, []
        except UnicodeDecodeError as e:
            raise DataError(f"not UTF-8 text ({e.reason}) after line {line_no}",
                            path=str(path)) from None
    if records or start == 0:
        yield Chunk(start, records=records)


def _json_object(line: str, path: Path, row: int, line_no: int) -> dict[str, Any]:
    where = "" if row == line_no else f" (line {line_no})"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON: {e.msg}{where}", path=str(path), row=row) from None
    if not isinstance(obj, dict):
        raise DataError(f"expected a JSON object per line{where}", path=str(path), row=row)
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


# =========================================================================== writers
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
        _fsync_dir(self.partial.parent)
        if self._file.seek(0, os.SEEK_END) < offset:
            self._file.close()
            from ..errors import ResumeError

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
        import pandas as pd

        self.set_columns(chunk)
        frame = chunk.as_frame(self.columns or [], self.input_path)
        if list(map(str, frame.columns)) != self.columns:
            raise DataError(f"columns {list(frame.columns)} differ from the first chunk's "
                            f"{self.columns}", path=str(self.input_path), row=chunk.start + 1)
        out = pd.concat([frame.reset_index(drop=True), pd.DataFrame(added)], axis=1)
        text = out.to_csv(index=False, header=not self.header_written,
                          sep="," if self.fmt == "csv" else "\t", lineterminator="\n")
        self._file.write(text.encode("utf-8"))
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
        os.replace(self.partial, self.output)
        _fsync_dir(self.output.parent)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


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
        table = chunk.as_table(self.columns or [], self.input_path)
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
        tmp = self.partial / f".part-{self.n_parts:06d}.tmp"
        pq.write_table(table, tmp)
        _fsync_file(tmp)
        os.replace(tmp, self._part(self.n_parts))
        _fsync_dir(self.partial)
        self.n_parts += 1

    def commit(self) -> dict[str, Any]:
        state: dict[str, Any] = {"parts": self.n_parts}
        if self.columns is not None:
            state["columns"] = self.columns
        return state

    def finish(self) -> None:
        import pyarrow.parquet as pq

        tmp = self.output.with_name(f".{self.output.name}.tmp")
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
        _fsync_file(tmp)
        os.replace(tmp, self.output)
        _fsync_dir(self.output.parent)
        shutil.rmtree(self.partial, ignore_errors=True)


def _part_index(path: Path) -> int:
    try:
        return int(path.name.removeprefix("part-").removesuffix(".parquet"))
    except ValueError:
        return 1 << 62


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` survive a power cut (not needed for kill -9,
    cheap enough to do anyway)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
