"""Start-up time: ``emotag predict "one text"`` end to end, next to bare Python.

Runs each command ``--runs`` times as a child process (process start to exit, wall clock),
interleaved so that a busy machine slows all of them alike, and prints the median and the
range of each, its median CPU time (user + system: what a busy machine changes least), and
``emotag predict``'s median over ``python -c pass``'s:

    python -c pass                      the interpreter alone
    python -c "import emotag"           the package (imports nothing heavy)
    python -c "import emotag.cli.app"   the command line, before any command runs
    emotag predict "one text"           load the shipped ONNX model, score, print, exit

It also lists the heavy modules that ``emotag predict`` imports (torch, transformers,
scikit-learn, pandas, pyarrow must not be among them). Use ``--venv`` to time another
virtualenv's emotag (e.g. one with only the base install):

    python benchmarks/bench_startup.py                      # this interpreter's emotag
    python benchmarks/bench_startup.py --venv /tmp/venv-base --runs 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("torch", "transformers", "sklearn", "scipy", "pandas", "pyarrow", "matplotlib",
         "datasets", "fastapi")
PROBE = ("import runpy, sys, json, atexit\n"
         "atexit.register(lambda: print(json.dumps(sorted(m for m in {heavy!r} "
         "if m in sys.modules)), file=sys.stderr))\n"
         "sys.argv = ['emotag', 'predict', 'one text']\n"
         "from emotag.cli.app import main\n"
         "main()\n")


RUN_CLI = ("import sys; sys.path.insert(0, {src!r}); sys.argv = ['emotag', 'predict', 'one text']; "
           "from emotag.cli.app import main; main()")


def commands(python: str, emotag: str, other_src: Path | None) -> dict[str, list[str]]:
    cmds = {"python -c pass": [python, "-c", "pass"],
            "python -c 'import emotag'": [python, "-c", "import emotag"],
            "python -c 'import emotag.cli.app'": [python, "-c", "import emotag.cli.app"],
            "emotag predict 'one text'": [emotag, "predict", "one text"]}
    if other_src is not None:  # another checkout's emotag (e.g. an older commit), same python
        cmds[f"emotag predict, {other_src}"] = [python, "-c",
                                                RUN_CLI.format(src=str(other_src))]
    return cmds


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run of ``cmd``."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--venv", type=Path, default=None,
                    help="virtualenv whose python and emotag to time (default: this one)")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--other-src", type=Path, default=None,
                    help="also time `emotag predict` from this src/ folder (e.g. an older "
                    "commit: git archive COMMIT | tar -x -C /tmp/old; --other-src /tmp/old/src)")
    args = ap.parse_args()

    bindir = (args.venv / "bin") if args.venv else Path(sys.executable).parent
    python, emotag = str(bindir / "python"), str(bindir / "emotag")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmds = commands(python, emotag, args.other_src)
    for cmd in cmds.values():  # warm the page cache (the model file, the wheels' .so files)
        run_once(cmd, env)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    cpu: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(args.runs):
        for name, cmd in cmds.items():
            w, c = run_once(cmd, env)
            times[name].append(w)
            cpu[name].append(c)

    probe = subprocess.run([python, "-c", PROBE.format(heavy=HEAVY)], env=env, check=True,
                           capture_output=True, text=True)
    heavy = json.loads(probe.stderr.strip().splitlines()[-1])

    print(f"{args.runs} runs each, interleaved; cores: {len(os.sched_getaffinity(0))}, "
          f"load average {os.getloadavg()[0]:.2f}; python: {python}")
    width = max(len(n) for n in cmds)
    print(f"{'command':{width}} {'median s':>9} {'min s':>7} {'max s':>7} {'CPU s (median)':>15}")
    med = {}
    for name, ts in times.items():
        med[name] = statistics.median(ts)
        print(f"{name:{width}} {med[name]:9.3f} {min(ts):7.3f} {max(ts):7.3f} "
              f"{statistics.median(cpu[name]):15.3f}")
    predict, bare = med["emotag predict 'one text'"], med["python -c pass"]
    print(f"emotag predict / python -c pass: {predict / bare:.1f}x; "
          f"emotag predict minus python -c pass: {predict - bare:.3f} s")
    print(f"heavy modules imported by emotag predict: {', '.join(heavy) or 'none'}")
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "python": python,
                                         "median_s": med, "all_s": times, "cpu_s": cpu,
                                         "heavy_modules": heavy}, indent=2))


if __name__ == "__main__":
    main()
