"""``emotag predict`` printing: user text comes out exactly as typed (no rich markup, no
emoji codes, no path folding), and a mistyped model folder is never scored as a text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emotag.cli.app import app
from emotag.errors import ModelFormatError

runner = CliRunner()


def printed_texts(output: str) -> list[str]:
    """The text column of each printed result line (``labels<TAB>text``)."""
    return [line.split("\t", 1)[1] for line in output.splitlines() if "\t" in line]


@pytest.mark.parametrize("text", [
    "Thanks [NAME], I [love] this",   # GoEmotions' own placeholder and a bracketed word
    "a [/b] c",                       # was a MarkupError traceback
    "[bold]not bold[/bold] :thumbs_up: see http://example.com//x",
    "tab\there",
])
def test_printed_text_is_the_text_as_typed(text: str) -> None:
    result = runner.invoke(app, ["predict", text, "--threads", "1"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert printed_texts(result.output) == [text]


def test_json_output_keeps_the_text() -> None:
    text = "Thanks [NAME], I [love] this"
    result = runner.invoke(app, ["predict", text, "--json", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["text"] == text


def test_a_missing_model_folder_is_an_error_not_a_text() -> None:
    result = runner.invoke(app, ["predict", "models/defualt", "I am happy"])
    assert isinstance(result.exception, ModelFormatError)
    assert "model folder not found: models/defualt" in str(result.exception)


def test_a_file_given_as_the_model_is_an_error(tmp_path: Path) -> None:
    data = tmp_path / "texts.csv"
    data.write_text("text\nhello\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", str(data), "I am happy"])
    assert isinstance(result.exception, ModelFormatError)
    assert "not a model folder" in str(result.exception) and "--input" in str(result.exception)


def test_a_single_word_first_is_a_text_with_a_warning() -> None:
    result = runner.invoke(app, ["predict", "defualt", "I am happy", "--threads", "1"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert printed_texts(result.stdout) == ["defualt", "I am happy"]
    assert "'defualt' is not a model folder" in result.stderr


def test_one_text_alone_needs_no_folder_and_gives_no_warning() -> None:
    result = runner.invoke(app, ["predict", "and/or I am happy", "--threads", "1"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert printed_texts(result.stdout) == ["and/or I am happy"] and not result.stderr


def test_error_lines_do_not_read_user_text_as_markup(tmp_path: Path) -> None:
    """The CLI's one-line error quotes file names and values as they are."""
    import subprocess
    import sys

    missing = tmp_path / "[red]x[/red].csv"
    proc = subprocess.run([sys.executable, "-m", "emotag.cli.app", "predict", "--input",
                           str(missing), "--output", str(tmp_path / "o.csv")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "[red]x[/red].csv" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_taxonomy_is_a_usage_error_before_any_scoring() -> None:
    """One check for --taxonomy (cli.predict.check_taxonomy_option), shared with evaluate."""
    result = runner.invoke(app, ["predict", "hi", "--taxonomy", "plutchik"])
    assert result.exit_code == 2
    assert "'plutchik'" in result.output and "expected one of" in result.output
