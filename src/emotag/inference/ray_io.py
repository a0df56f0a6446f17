"""Ray Data files for ``emotag predict --engine ray``: which inputs, how they are read,
and how the scored blocks are written in input order (:mod:`emotag.inference.ray_scoring`
runs the job)."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data.tables import INPUT_FORMATS
from ..errors import DataError

#: input suffix -> reader: emotag's input formats that Ray Data reads (not plain .txt)
FORMATS = {suffix: fmt for suffix, fmt in INPUT_FORMATS.items() if fmt != "txt"}


def expand_inputs(inputs: str | Path | Sequence[str | Path]) -> tuple[list[str], str]:
    """Input paths (globs and folders expanded, sorted) and their one format.

    Local paths are made absolute, because Ray workers need not share the driver's working
    folder; URIs (``s3://...``) are passed to Ray as they are. Mixing formats is an error:
    one reader reads them all.
    """
    items = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    if not items:
        raise DataError("no input given")
    paths: list[str] = []
    for item in map(str, items):
        if "://" in item:
            paths.append(item)
        elif any(ch in item for ch in "*?["):
            found = sorted(p for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not found:
                raise DataError("no file matches this pattern", path=item)
            paths += [str(Path(p).resolve()) for p in found]
        elif Path(item).is_dir():
            found = sorted(p for p in Path(item).iterdir()
                           if p.is_file() and p.suffix.lower() in FORMATS)
            if not found:
                raise DataError(f"folder holds no {', '.join(sorted(FORMATS))} file", path=item)
            paths += [str(p.resolve()) for p in found]
        elif Path(item).is_file():
            paths.append(str(Path(item).resolve()))
        else:
            raise DataError("file not found", path=item)
    formats = {}
    for p in paths:
        suffix = Path(p.split("://")[-1]).suffix.lower()
        if suffix not in FORMATS:
            raise DataError(f"unsupported input type {suffix!r} for --engine ray; expected "
                            f"{', '.join(sorted(FORMATS))}", path=p)
        formats.setdefault(FORMATS[suffix], p)
    if len(formats) > 1:
        raise DataError(f"inputs mix formats {sorted(formats)} (e.g. {list(formats.values())});"
                        " score each format in its own run")
    return paths, next(iter(formats))


def read_dataset(ray: Any, paths: list[str], fmt: str) -> Any:
    """A Ray dataset over ``paths``. CSV/TSV cells are read as strings, exactly as written
    (as the single-process reader does): type guessing would turn an id "007" into 7."""
    if fmt == "parquet":
        return ray.data.read_parquet(paths)
    if fmt == "jsonl":
        return ray.data.read_json(paths, file_extensions=None)
    import pyarrow.csv as pacsv

    delimiter = "\t" if fmt == "tsv" else ","
    header = _csv_header(paths[0], delimiter)
    return ray.data.read_csv(
        paths, file_extensions=None,
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, "string"),
                                             strings_can_be_null=False,
                                             quoted_strings_can_be_null=False))


def _csv_header(path: str, delimiter: str) -> list[str]:
    """Column names of a CSV/TSV file (its first line), through pyarrow's file systems so a
    URI works too."""
    import csv
    import io

    import pyarrow.fs as pafs

    fs, inner = pafs.FileSystem.from_uri(path) if "://" in path else (pafs.LocalFileSystem(),
                                                                        path)
    with fs.open_input_stream(inner) as raw:
        first = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="").readline()
    if not first.strip():
        raise DataError("empty file: expected a header line", path=path)
    return next(csv.reader([first], delimiter=delimiter))


def check_text_column(schema: Any, text_column: str, path: str) -> None:
    import pyarrow as pa

    names = list(schema.names)
    if text_column not in names:
        raise DataError(f"missing column {text_column!r}; columns are {names} "
                        "(choose one with --text-column)", path=path)
    kind = schema.types[names.index(text_column)]
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
            or pa.types.is_string_view(kind)):
        raise DataError(f"column {text_column!r} holds {kind}, not text", path=path)


def ordered_parquet_sink(folder: str, rows_per_file: int = 100_000) -> Any:
    """A Ray Data sink that writes each write task's blocks, in order, to
    ``part-<task index>.parquet`` in ``folder`` (a local path or a pyarrow URI); Ray bundles
    consecutive blocks into tasks of about ``rows_per_file`` rows (not one file per batch).

    Why not ``Dataset.write_parquet``: Ray 2.x hands each task's blocks to
    ``pyarrow.dataset.write_dataset(use_threads=True)`` without ``preserve_order``, which may
    shuffle the rows inside a file (apache/arrow#26818; seen here on a 300-row file).
    A ``ParquetWriter`` writes the tables in the order given, and task indices follow the
    input order when ``preserve_order`` is on, so the files sort into input order.
    """
    import pyarrow as pa
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq
    from ray.data import Datasink
    from ray.data.block import BlockAccessor

    class _OrderedParquetSink(Datasink):
        def __init__(self, root: str) -> None:
            self.root = root

        def _fs(self) -> tuple[Any, str]:
            if "://" in self.root:
                return pafs.FileSystem.from_uri(self.root)
            return pafs.LocalFileSystem(), self.root

        def on_write_start(self, schema: Any = None) -> None:
            fs, root = self._fs()
            fs.create_dir(root, recursive=True)

        def write(self, blocks: Any, ctx: Any) -> int:
            tables = [BlockAccessor.for_block(b).to_arrow() for b in blocks]
            tables = [t for t in tables if t.num_rows]
            if not tables:
                return 0
            schema = pa.unify_schemas([t.schema for t in tables])
            fs, root = self._fs()
            name = f"part-{ctx.task_idx:06d}.parquet"
            tmp = f"{root}/.{name}.tmp"
            with fs.open_output_stream(tmp) as sink, pq.ParquetWriter(sink, schema) as writer:
                for table in tables:
                    writer.write_table(table.cast(schema))
            fs.move(tmp, f"{root}/{name}")  # a file under its final name is complete
            return sum(t.num_rows for t in tables)

        def get_name(self) -> str:
            return "OrderedParquet"

        @property
        def min_rows_per_write(self) -> int:
            return rows_per_file

    return _OrderedParquetSink(folder)


def count_rows(files: list[Path]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
