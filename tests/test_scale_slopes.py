"""benchmarks/scale_plot.py's pure helpers against known answers: the slope of a power law,
sizes as typed on the command line, and the series the slopes are fitted on."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

PLOT = Path(__file__).resolve().parents[1] / "benchmarks" / "scale_plot.py"
spec = importlib.util.spec_from_file_location("scale_plot", PLOT)
scale_plot = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scale_plot)


def test_slope_of_a_power_law_is_its_exponent():
    x = np.array([1e6, 2e6, 4e6, 8e6])
    assert scale_plot.slope(x, 3e-5 * x) == pytest.approx(1.0)
    assert scale_plot.slope(x, 7.0 * x ** 2) == pytest.approx(2.0)
    assert scale_plot.slope(x, np.full(4, 5.0)) == pytest.approx(0.0, abs=1e-12)
    assert scale_plot.slope(x, 2.0 * x ** 1.5 * np.array([1.0, 1.0, 1.0, 1.0])) == pytest.approx(1.5)


def test_slope_needs_two_positive_points():
    with pytest.raises(ValueError, match="two or more positive"):
        scale_plot.slope([1e6], [3.0])
    with pytest.raises(ValueError, match="two or more positive"):
        scale_plot.slope([1e6, 2e6], [0.0, 1.0])


def test_sizes_as_typed():
    assert [scale_plot.parse_size(s) for s in ("1M", "500k", "2000", "1.5M")] == \
        [1_000_000, 500_000, 2000, 1_500_000]
    with pytest.raises(ValueError, match="a size is a number"):
        scale_plot.parse_size("lots")


def test_slopes_use_the_generated_event_counts_and_only_steps_that_succeeded():
    rows = [{"events_target": 1_000_000, "step": "generate", "status": "ok", "events": 1_000_000,
             "wall_s": 10.0, "peak_rss_mb": 100.0},
            {"events_target": 4_000_000, "step": "generate", "status": "ok", "events": 4_000_000,
             "wall_s": 40.0, "peak_rss_mb": 100.0},
            {"events_target": 1_000_000, "step": "train_ease", "status": "ok", "fit_s": 2.0,
             "peak_rss_mb": 10.0, "model_mb": 1.0},
            {"events_target": 4_000_000, "step": "train_ease", "status": "over cap (15 min)"}]
    found = scale_plot.slopes(rows)
    assert found[("seconds", "generate")] == pytest.approx(1.0)
    assert found[("peak memory", "generate")] == pytest.approx(0.0, abs=1e-12)
    assert not any(step == "train_ease" for _, step in found)  # one size only: no slope
    assert "over cap (15 min)" in scale_plot.table(rows)


def test_a_step_run_again_supersedes_its_earlier_row():
    rows = [{"events_target": 2, "step": "import_sqlite", "status": "ok", "import_s": 4.0},
            {"events_target": 1, "step": "serve_plain", "status": "ok", "rps": 0.0},
            {"events_target": 1, "step": "import_sqlite", "status": "ok", "import_s": 2.0},
            {"events_target": 1, "step": "serve_plain", "status": "ok", "rps": 120.0}]
    kept = scale_plot.latest(rows)
    # steps in the order they first appear, sizes ascending within a step; the re-run's row only
    assert [(r["step"], r["events_target"]) for r in kept] == \
        [("import_sqlite", 1), ("import_sqlite", 2), ("serve_plain", 1)]
    assert kept[-1]["rps"] == 120.0
    assert scale_plot.series(rows)[("requests/s", "serve_plain")] == ([1], [120.0])
