"""Tests for emotag.cli.app: usage mistakes end with click's one-line message and exit code 2,
never a traceback (typer may carry its own copy of click)."""

from __future__ import annotations

import subprocess
import sys


def _emotag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotag", *args], capture_output=True,
                          text=True, timeout=120)


def test_missing_argument_is_a_usage_error_without_traceback():
    result = _emotag("evaluate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Missing" in result.stderr


def test_bad_option_value_is_a_usage_error_without_traceback():
    result = _emotag("predict", "--top-k", "zero", "hello")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
