"""benchmarks/simulate.py as a user runs it: a real process, a tiny shop, files on disk."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "simulate.py"


def simulate(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_tiny_run_prints_totals_that_match_its_csv_and_saves_three_plots(tmp_path):
    done = simulate("--days", "3", "--users", "200", "--items", "150", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    daily = pd.read_csv(tmp_path / "daily.csv")
    assert sorted(daily["policy"].unique()) == ["bandit", "greedy", "mmr(0.5)"]
    assert (daily.groupby("policy")["day"].apply(list) == [[0, 1, 2]] * 3).all()
    totals = done.stdout.split("Totals over all days:")[1].splitlines()
    for policy, rows in daily.groupby("policy"):
        line = next(t for t in totals if t.startswith(policy + " "))
        assert line.split()[1:5] == [str(rows[c].sum()) for c in ("visits", "views", "carts", "purchases")]
    for png in ("purchases.png", "entropy.png", "coverage.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("args", "named"), [(["--days", "0"], "--days"), (["--lam", "2"], "--lam"),
                                             (["--slot", "10"], "--slot"), (["--policies", "best"], "--policies"),
                                             (["--model", "nope"], "--model")])
def test_bad_arguments_exit_2_with_one_line_naming_the_option(args, named, tmp_path):
    done = simulate(*args, "--out", str(tmp_path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert named in error and error.startswith("simulate.py: error:")
