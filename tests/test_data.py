"""Tests for emotag.data.datasets: the GoEmotions TSV reader, the bundled copy, and user files."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emotag.config import DataConfig
from emotag.data.datasets import (
    load_files,
    load_goemotions,
    load_splits,
    read_goemotions_tsv,
    verify_checksums,
    warn_unseen_labels,
)
from emotag.errors import ChecksumError, DataError, DataWarning
from emotag.labels import GOEMOTIONS_LABELS
from emotag.resources import goemotions_dir

LABELS = list(GOEMOTIONS_LABELS)
COL = {name: i for i, name in enumerate(LABELS)}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def names_of(split, i: int) -> list[str]:
    return [split.label_names[j] for j in np.flatnonzero(split.labels[i])]


# --------------------------------------------------------------------------- TSV reader
def test_read_tsv_unquotes_csv_style_text_like_hugging_face(tmp_path):
    path = write(tmp_path / "mini.tsv",
                 '"""I didn\'t..."" Oh look"\t27\tabc\n'
                 "plain text, with a comma\t2,17\tdef\n"
                 'a "quoted" word inside\t0\tghi\n')
    split = read_goemotions_tsv(path)
    assert split.texts == ['"I didn\'t..." Oh look', "plain text, with a comma",
                           'a "quoted" word inside']
    assert split.ids == ["abc", "def", "ghi"]
    assert split.name == "mini"
    assert split.source == str(path)
    assert split.label_names == LABELS
    assert split.labels.shape == (3, 28)
    assert names_of(split, 0) == ["neutral"]
    assert names_of(split, 1) == ["anger", "joy"]
    assert names_of(split, 2) == ["admiration"]


GOOD = "fine row\t1\tid1\n"


@pytest.mark.parametrize(("bad_line", "row_no", "needle"), [
    ("only two fields\t3\n", 2, "expected 3 tab-separated fields"),
    ("four\tfields\there\t1\n", 2, "got 4"),
    ("   \t3\tid2\n", 2, "empty text"),
    ("text\tjoy\tid2\n", 2, "not comma-separated integers"),
    ("text\t1,x\tid2\n", 2, "not comma-separated integers"),
    ("text\t\tid2\n", 2, "not comma-separated integers"),
    ("text\t3,28\tid2\n", 2, "label id 28 out of range 0..27"),
    ("text\t-1\tid2\n", 2, "label id -1 out of range"),
])
def test_read_tsv_bad_rows_name_file_and_row(tmp_path, bad_line, row_no, needle):
    path = write(tmp_path / "bad.tsv", GOOD + bad_line + GOOD)
    with pytest.raises(DataError) as info:
        read_goemotions_tsv(path)
    msg = str(info.value)
    assert str(path) in msg
    assert f"row {row_no}" in msg
    assert needle in msg
    assert info.value.row == row_no
    assert info.value.path == str(path)


def test_read_tsv_bad_row_number_is_counted_from_one(tmp_path):
    path = write(tmp_path / "bad.tsv", GOOD * 4 + "text\t99\tx\n")
    with pytest.raises(DataError, match=r"row 5: label id 99"):
        read_goemotions_tsv(path)


# --------------------------------------------------------------------------- bundled copy
@pytest.fixture(scope="module")
def bundled():
    return load_goemotions()


def test_load_goemotions_bundled_counts_and_first_row(bundled):
    assert {k: len(v) for k, v in bundled.items()} == {"train": 43410, "dev": 5426,
                                                      "test": 5427}
    train = bundled["train"]
    assert train.texts[0] == "My favourite food is anything I didn't have to cook myself."
    assert names_of(train, 0) == ["neutral"]
    assert train.ids[0] == "eebbqej"
    for s in bundled.values():
        assert s.label_names == LABELS
        assert s.labels.shape == (len(s), 28)
        assert s.labels.dtype == np.uint8
        assert (s.labels.sum(axis=1) >= 1).all()
        assert len(s.ids) == len(s)
    # label counts from data/goemotions/README.md
    assert int(train.labels[:, COL["neutral"]].sum()) == 14219
    assert int(train.labels[:, COL["grief"]].sum()) == 77
    assert int(bundled["test"].labels[:, COL["admiration"]].sum()) == 504


def test_load_goemotions_unquotes_the_real_quoted_rows(bundled):
    dev = bundled["dev"]
    i = dev.ids.index("eepmnfn")
    assert i == 88  # line 89 of dev.tsv
    assert dev.texts[i] == ('"I didn\'t learn anything from the last short clip video on twitter '
                            'that cut in mid way through an confrontation" Oh look a new one!')
    assert names_of(dev, i) == ["disapproval"]
    assert not any(t.startswith('"""') for t in dev.texts)


def _copy_small_files(tmp_path: Path) -> Path:
    """The bundled folder's small files with their real SHA256SUMS lines."""
    src = goemotions_dir()
    small = ["emotions.txt", "ekman_mapping.json", "sentiment_dict.json"]
    dst = tmp_path / "ge"
    dst.mkdir()
    for name in small:
        shutil.copyfile(src / name, dst / name)
    lines = [ln for ln in (src / "SHA256SUMS").read_text().splitlines()
             if ln.split()[-1] in small]
    assert len(lines) == 3
    (dst / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return dst


def test_verify_checksums_detects_a_tampered_copy(tmp_path):
    folder = _copy_small_files(tmp_path)
    verify_checksums(folder)  # the untouched copies match the pinned sums
    verify_checksums(folder, ["emotions.txt"])
    target = folder / "ekman_mapping.json"
    target.write_bytes(target.read_bytes().replace(b"grief", b"griff"))
    with pytest.raises(ChecksumError, match="ekman_mapping.json"):
        verify_checksums(folder)
    verify_checksums(folder, ["emotions.txt", "sentiment_dict.json"])  # others still fine


def test_verify_checksums_needs_sha256sums(tmp_path):
    with pytest.raises(ChecksumError, match="SHA256SUMS"):
        verify_checksums(tmp_path)


def _tiny_goemotions(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    shutil.copyfile(goemotions_dir() / "emotions.txt", folder / "emotions.txt")
    write(folder / "train.tsv", "happy days\t17\tt1\nugh\t2,3\tt2\n")
    write(folder / "dev.tsv", "meh\t27\td1\n")
    write(folder / "test.tsv", "wow\t26\tx1\n")
    sums = [f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}"
            for n in ("train.tsv", "dev.tsv", "test.tsv", "emotions.txt")]
    (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return folder


def test_load_goemotions_verifies_a_custom_folder(tmp_path):
    folder = _tiny_goemotions(tmp_path)
    splits = load_goemotions(folder)
    assert {k: len(v) for k, v in splits.items()} == {"train": 2, "dev": 1, "test": 1}
    assert names_of(splits["train"], 1) == ["anger", "annoyance"]
    with open(folder / "train.tsv", "a", encoding="utf-8") as f:
        f.write("sneaky extra row\t17\tt3\n")
    with pytest.raises(ChecksumError, match="train.tsv"):
        load_goemotions(folder)
    assert len(load_goemotions(folder, verify=False)["train"]) == 3


def test_load_goemotions_missing_folder(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_goemotions(tmp_path / "nope")


# --------------------------------------------------------------------------- user files
def files_cfg(train: Path, dev: Path, test: Path | None = None, **kw) -> DataConfig:
    return DataConfig(dataset="files", train_file=str(train), validation_file=str(dev),
                      test_file=str(test) if test else None, **kw)


def test_load_files_csv_with_label_names(tmp_path):
    train = write(tmp_path / "train.csv",
                  'text,labels\n"so happy, really","joy,excitement"\nugh,anger\n')
    dev = write(tmp_path / "dev.csv", "text,labels\nok,neutral\n")
    splits = load_files(files_cfg(train, dev, label_names="goemotions"))
    assert set(splits) == {"train", "dev"}
    tr = splits["train"]
    assert tr.texts == ["so happy, really", "ugh"]
    # asked for: the 28 GoEmotions labels in their order
    assert tr.label_names == LABELS
    assert names_of(tr, 0) == ["excitement", "joy"]
    assert names_of(tr, 1) == ["anger"]
    assert tr.ids == ["1", "2"]
    assert tr.source == str(train)
    assert names_of(splits["dev"], 0) == ["neutral"]


def test_load_files_csv_with_label_ids(tmp_path):
    train = write(tmp_path / "train.csv", 'text,labels\nboth,"17,2"\none,27\n')
    dev = write(tmp_path / "dev.csv", "text,labels\nx,0\n")
    splits = load_files(files_cfg(train, dev, label_names=LABELS))
    assert names_of(splits["train"], 0) == ["anger", "joy"]
    assert names_of(splits["train"], 1) == ["neutral"]
    assert names_of(splits["dev"], 0) == ["admiration"]


def test_load_files_label_ids_need_label_names(tmp_path):
    train = write(tmp_path / "train.csv", 'text,labels\nboth,"17,2"\n')
    dev = write(tmp_path / "dev.csv", "text,labels\nx,0\n")
    with pytest.raises(DataError, match=r"train\.csv, line 2: label id 17 needs"):
        load_files(files_cfg(train, dev))


def test_load_files_custom_label_set_is_sorted_training_labels(tmp_path):
    train = write(tmp_path / "train.csv", "text,labels\na,spam\nb,\"ham,eggs\"\n")
    dev = write(tmp_path / "dev.csv", "text,labels\nc,ham\n")
    splits = load_files(files_cfg(train, dev))
    assert splits["train"].label_names == ["eggs", "ham", "spam"]
    np.testing.assert_array_equal(splits["train"].labels, [[0, 0, 1], [1, 1, 0]])
    np.testing.assert_array_equal(splits["dev"].labels, [[0, 1, 0]])


def test_load_files_jsonl_with_label_lists_and_ids(tmp_path):
    rows = [{"id": "a1", "text": "thanks!", "labels": ["gratitude"]},
            {"id": "a2", "text": "what? wow", "labels": ["confusion", "surprise"]}]
    train = write(tmp_path / "train.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    dev = write(tmp_path / "dev.jsonl", json.dumps({"id": "b", "text": "hm",
                                                    "labels": ["neutral"]}) + "\n")
    splits = load_files(files_cfg(train, dev, id_column="id", label_names="goemotions"))
    tr = splits["train"]
    assert tr.texts == ["thanks!", "what? wow"]
    assert tr.ids == ["a1", "a2"]
    assert names_of(tr, 0) == ["gratitude"]
    assert names_of(tr, 1) == ["confusion", "surprise"]
    assert splits["dev"].ids == ["b"]


def test_load_files_parquet(tmp_path):
    train = tmp_path / "train.parquet"
    dev = tmp_path / "dev.parquet"
    pq.write_table(pa.table({"sentence": ["I love it", "so scary", "fine"],
                             "emotions": [["love"], ["fear", "nervousness"], ["neutral"]]}),
                   train)
    pq.write_table(pa.table({"sentence": ["yay"], "emotions": [["joy"]]}), dev)
    splits = load_files(files_cfg(train, dev, text_column="sentence",
                                  label_column="emotions", label_names="goemotions"))
    tr = splits["train"]
    assert tr.texts == ["I love it", "so scary", "fine"]
    assert tr.label_names == LABELS
    assert [names_of(tr, i) for i in range(3)] == [["love"], ["fear", "nervousness"],
                                                   ["neutral"]]
    assert names_of(splits["dev"], 0) == ["joy"]


def test_load_files_parquet_integer_ids(tmp_path):
    train = tmp_path / "train.parquet"
    dev = tmp_path / "dev.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "labels": [[17, 2], [27]]}), train)
    pq.write_table(pa.table({"text": ["c"], "labels": [[0]]}), dev)
    splits = load_files(files_cfg(train, dev, label_names=LABELS))
    assert names_of(splits["train"], 0) == ["anger", "joy"]
    assert names_of(splits["dev"], 0) == ["admiration"]


def _expect_error(cfg: DataConfig, path: Path, line: int | None, needle: str) -> None:
    """The error names the file, the line as an editor counts them (header = 1), the
    problem."""
    with pytest.raises(DataError) as info:
        load_files(cfg)
    msg = str(info.value)
    assert str(path) in msg, msg
    assert needle in msg, msg
    if line is not None:
        assert f"line {line}:" in msg, msg
        assert info.value.line == line


def test_load_files_missing_column(tmp_path):
    train = write(tmp_path / "train.csv", "sentence,labels\nhi,joy\n")
    dev = write(tmp_path / "dev.csv", "text,labels\nok,neutral\n")
    _expect_error(files_cfg(train, dev), train, None, "missing column 'text'")


def test_load_files_empty_text(tmp_path):
    train = write(tmp_path / "train.csv", "text,labels\nhi,joy\n  ,anger\n")
    dev = write(tmp_path / "dev.csv", "text,labels\nok,neutral\n")
    _expect_error(files_cfg(train, dev), train, 3, "empty text")


def test_load_files_non_string_text_in_jsonl(tmp_path):
    train = write(tmp_path / "train.jsonl", '{"text": "hi", "labels": ["joy"]}\n')
    dev = write(tmp_path / "dev.jsonl", '{"text": "ok", "labels": ["neutral"]}\n'
                                        '{"text": 42, "labels": ["joy"]}\n')
    _expect_error(files_cfg(train, dev), dev, 2, "must be a string, got int")


def test_load_files_unknown_label_name_with_label_names(tmp_path):
    train = write(tmp_path / "train.csv", 'text,labels\nhi,joy\nhm,"anger,angst"\n')
    dev = write(tmp_path / "dev.csv", "text,labels\nok,neutral\n")
    _expect_error(files_cfg(train, dev, label_names=LABELS), train, 3, "unknown label 'angst'")


def test_load_files_unknown_dev_label_is_not_added_to_the_label_set(tmp_path):
    # label_names unset: the label set comes from the training file (config help text), so a
    # typo in the dev file must be reported, not turned into a 29th label.
    train = write(tmp_path / "train.csv", "text,labels\nhi,joy\nugh,anger\n")
    dev = write(tmp_path / "dev.csv", "text,labels\nok,joy\nyay,joyy\n")
    _expect_error(files_cfg(train, dev), dev, 3, "unknown label 'joyy'")


def test_load_files_invalid_json_line(tmp_path):
    train = write(tmp_path / "train.jsonl", '{"text": "hi", "labels": ["joy"]}\n'
                                            '{"text": "oops", "labels": ["joy"]\n')
    dev = write(tmp_path / "dev.jsonl", '{"text": "ok", "labels": ["neutral"]}\n')
    _expect_error(files_cfg(train, dev), train, 2, "invalid JSON")


def test_load_files_missing_file(tmp_path):
    train = write(tmp_path / "train.csv", "text,labels\nhi,joy\n")
    _expect_error(files_cfg(train, tmp_path / "nope.csv"), tmp_path / "nope.csv", None,
                  "file not found")


# --------------------------------------------------------------------------- load_splits
def test_load_splits_caps_train_and_eval_rows(tmp_path):
    train = write(tmp_path / "train.csv",
                  "text,labels\n" + "".join(f"t{i},{'joy' if i % 2 else 'fear'}\n"
                                             for i in range(5)))
    dev = write(tmp_path / "dev.csv", "text,labels\n" + "".join(f"d{i},joy\n" for i in range(4)))
    test = write(tmp_path / "test.csv", "text,labels\n" + "".join(f"x{i},fear\n" for i in range(3)))
    splits = load_splits(files_cfg(train, dev, test, max_train_samples=2, max_eval_samples=1))
    assert {k: len(v) for k, v in splits.items()} == {"train": 2, "dev": 1, "test": 1}
    assert splits["train"].texts == ["t0", "t1"]
    assert splits["train"].labels.shape == (2, 2)  # fear, joy
    assert splits["train"].ids == ["1", "2"]
    assert splits["dev"].texts == ["d0"]
    assert splits["test"].texts == ["x0"]
    full = load_splits(files_cfg(train, dev, test))
    assert {k: len(v) for k, v in full.items()} == {"train": 5, "dev": 4, "test": 3}


def test_load_splits_caps_the_bundled_copy():
    splits = load_splits(DataConfig(max_train_samples=7, max_eval_samples=3))
    assert {k: len(v) for k, v in splits.items()} == {"train": 7, "dev": 3, "test": 3}
    assert splits["train"].labels.shape == (7, 28)
    assert splits["train"].texts[0].startswith("My favourite food")


def test_load_hub_maps_the_hub_layout(monkeypatch):
    """The hub path (google-research-datasets/go_emotions, simplified), without network:
    datasets.load_dataset is replaced by an in-memory DatasetDict of the same layout."""
    import datasets

    from emotag.data.datasets import load_hub

    features = datasets.Features({
        "text": datasets.Value("string"),
        "labels": datasets.Sequence(datasets.ClassLabel(names=list(GOEMOTIONS_LABELS))),
        "id": datasets.Value("string")})

    def fake_load_dataset(name, config):
        assert (name, config) == ("google-research-datasets/go_emotions", "simplified")
        part = {"text": ["so happy", "why?"], "labels": [[17], [7, 27]], "id": ["a", "b"]}
        return datasets.DatasetDict({s: datasets.Dataset.from_dict(part, features=features)
                                     for s in ("train", "validation", "test")})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    splits = load_hub("google-research-datasets/go_emotions", "simplified")
    assert set(splits) == {"train", "dev", "test"}
    dev = splits["dev"]
    assert dev.texts == ["so happy", "why?"] and dev.ids == ["a", "b"]
    assert dev.labels[0, GOEMOTIONS_LABELS.index("joy")] == 1
    assert dev.labels[1, [7, 27]].tolist() == [1, 1] and dev.labels.sum() == 3


# ------------------------------------------------------------------ files as people have them
def write_bytes(path: Path, text: str, *, bom: bool = True, crlf: bool = True,
                encoding: str = "utf-8") -> Path:
    data = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode(encoding))
    return path


EKMAN = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]


def test_ekman_named_excel_csv_keeps_its_7_labels(tmp_path):
    """Regression: labels that are all GoEmotions names were widened to the 28; and an
    Excel CSV (BOM + CRLF) failed with "missing column 'text'"."""
    from ekman_files import write_ekman_files

    files = write_ekman_files(tmp_path, rows=300)
    assert files["train"].read_bytes().startswith(b"\xef\xbb\xbftext,labels\r\n")
    splits = load_files(files_cfg(files["train"], files["dev"], files["test"]))
    assert splits["train"].label_names == sorted(EKMAN)  # sorted, the documented default
    assert splits["train"].labels.shape == (300, 7)
    assert all(s.label_names == sorted(EKMAN) for s in splits.values())
    assert not any(t.endswith("\r") for t in splits["train"].texts)


def test_label_names_order_is_the_users(tmp_path):
    train = write_bytes(tmp_path / "train.csv", "text,labels\na,spam\nb,\"ham,eggs\"\n")
    dev = write_bytes(tmp_path / "dev.csv", "text,labels\nc,ham\n")
    for given in (["spam", "ham", "eggs"], "spam, ham,eggs"):
        splits = load_files(files_cfg(train, dev, label_names=given))
        assert splits["train"].label_names == ["spam", "ham", "eggs"]
        np.testing.assert_array_equal(splits["train"].labels, [[1, 0, 0], [0, 1, 1]])


def test_goemotions_widening_only_when_asked(tmp_path):
    train = write_bytes(tmp_path / "train.csv", "text,labels\na,joy\nb,anger\n")
    dev = write_bytes(tmp_path / "dev.csv", "text,labels\nc,joy\n")
    assert load_files(files_cfg(train, dev))["train"].label_names == ["anger", "joy"]
    splits = load_splits(files_cfg(train, dev, label_names="goemotions"))
    assert splits["train"].label_names == LABELS
    with pytest.warns(DataWarning, match=r"26 of 28 labels have no training example"):
        assert len(warn_unseen_labels(splits["train"])) == 26


def test_label_of_the_set_without_training_example_warns(tmp_path):
    train = write_bytes(tmp_path / "train.csv", "text,labels\na,joy\nb,anger\n")
    dev = write_bytes(tmp_path / "dev.csv", "text,labels\nc,fear\n")
    splits = load_splits(files_cfg(train, dev, label_names=["joy", "anger", "fear"]))
    assert splits["dev"].labels.tolist() == [[0, 0, 1]]
    with pytest.warns(DataWarning, match=r"train\.csv: 1 of 3 labels .*: fear"):
        assert warn_unseen_labels(splits["train"]) == ["fear"]


@pytest.mark.parametrize(("suffix", "body"), [
    (".csv", 'text,labels\n"a, b",joy\nc,"joy,anger"\n'),
    (".tsv", "text\tlabels\na, b\tjoy\nc\tjoy,anger\n"),
    (".jsonl", '{"text": "a, b", "labels": ["joy"]}\n{"text": "c", "labels": "joy,anger"}\n'),
])
@pytest.mark.parametrize(("bom", "crlf"), [(False, False), (True, True), (True, False)])
def test_utf8_with_or_without_bom_lf_or_crlf(tmp_path, suffix, body, bom, crlf):
    train = write_bytes(tmp_path / f"train{suffix}", body, bom=bom, crlf=crlf)
    splits = load_files(files_cfg(train, train))
    assert splits["train"].texts == ["a, b", "c"]
    assert splits["train"].label_names == ["anger", "joy"]


def test_training_and_scoring_read_a_file_the_same_way(tmp_path):
    """One reader: the rows training sees are the rows ``predict --input`` scores."""
    from emotag.cli.predict import read_texts
    from emotag.data.datasets import read_records

    path = write_bytes(tmp_path / "in.csv", 'id,text,labels\n1,"multi\nline",joy\n2,ok,\n')
    assert read_texts(path, "text") == ["multi\r\nline", "ok"]  # a quoted CRLF is text
    assert [r["text"] for r in read_records(path)] == ["multi\r\nline", "ok"]


@pytest.mark.parametrize(("body", "line", "needle"), [
    ("text,labels\nfine,joy\ntoo,many,fields\n", 3, "3 fields, but the header has 2"),
    ("text,labels\nfine,joy\nfew\n", 3, "1 fields, but the header has 2"),
    ('text,labels\n"two\nlines",joy\nok,joy\n ,joy\n', 5, "empty text"),  # after a 2-line cell
    ("text,labels\nfine,joy\n\nok,jyo\n", 4, "unknown label 'jyo'"),  # after a blank line
    ("text,text\nfine,joy\n", 1, "duplicate column names ['text']"),
])
def test_bad_rows_name_file_and_line(tmp_path, body, line, needle):
    train = write_bytes(tmp_path / "train.csv", body)
    dev = write_bytes(tmp_path / "dev.csv", "text,labels\nok,joy\n")
    _expect_error(files_cfg(train, dev, label_names=["joy"]), train, line, needle)


def test_latin1_bytes_are_refused_with_their_line(tmp_path):
    train = write_bytes(tmp_path / "train.csv", "text,labels\nfine,joy\ncaf\u00e9,joy\n",
                        bom=False, encoding="latin-1")
    dev = write_bytes(tmp_path / "dev.csv", "text,labels\nok,joy\n")
    _expect_error(files_cfg(train, dev), train, 3, "not UTF-8 text: byte 0xe9 at character 4")


def test_parquet_errors_name_the_row(tmp_path):
    train = tmp_path / "train.parquet"
    pq.write_table(pa.table({"text": ["a", ""], "labels": [["joy"], ["joy"]]}), train)
    with pytest.raises(DataError, match=r"train\.parquet, row 2: empty text"):
        load_files(files_cfg(train, train))


def test_semicolon_csv_gets_a_hint(tmp_path):
    train = write_bytes(tmp_path / "train.csv", "text;labels\nfine;joy\n")
    _expect_error(files_cfg(train, train), train, 1, "separated by another character")


@pytest.mark.parametrize(("name", "body", "line"), [
    ("in.csv", "id,text\n1,fine\n2,too,many\n", 3),
    ("in.tsv", "id\ttext\n1\tfine\n\n2\n", 4),
    ("in.jsonl", '{"text": "a"}\n\n{"text": 5}\n', 3),
    ("in.txt", "caf\u00e9\nok\n", None),  # utf-8: fine
])
def test_scoring_reader_names_the_same_lines(tmp_path, name, body, line):
    """iter_chunks is what ``predict --input`` reads with: errors carry the editor's line."""
    from emotag.data.tables import iter_chunks

    path = write_bytes(tmp_path / name, body)
    if line is None:
        assert [c.texts("text", path) for c in iter_chunks(path, 1)] == [["caf\u00e9"], ["ok"]]
        return
    with pytest.raises(DataError) as info:
        for chunk in iter_chunks(path, 1):
            chunk.texts("text", path)
    assert info.value.line == line and f"line {line}:" in str(info.value)
