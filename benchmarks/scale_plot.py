"""The table, slopes and plots of ``benchmarks/scale.py``'s JSON lines (one row per size and step).

The slope of a cost is the least-squares slope of log(cost) against log(events): 1 is linear
growth, 2 quadratic, 0 flat. It needs the step to have succeeded at two sizes or more.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

#: cost name -> (row field for each step kind, unit); the kind is the step's name before "_"
COSTS = {
    "seconds": ({"generate": "wall_s", "import": "import_s", "train": "fit_s", "spark": "fit_s",
                 "serve": None}, "s"),
    "peak memory": ({"generate": "peak_rss_mb", "import": "peak_rss_mb", "train": "peak_rss_mb",
                     "spark": "peak_rss_mb", "serve": "peak_rss_mb"}, "MB"),
    "disk": ({"import": "store_mb", "train": "model_mb", "spark": "model_mb"}, "MB"),
    "p99 latency": ({"serve": "p99_ms"}, "ms"),
    "requests/s": ({"serve": "rps"}, "1/s"),
}


def parse_size(text: str) -> int:
    """'1M' -> 1_000_000, '500k' -> 500_000, '2000' -> 2000."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", str(text))
    if not m:
        raise ValueError(f"a size is a number with an optional k or M, got {text!r}")
    return int(float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()])


def slope(x, y) -> float:
    """Least-squares slope of log(y) against log(x); x, y: (n,) positive, n >= 2."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("a slope needs two or more positive points")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _events(rows: list[dict]) -> dict[int, int]:
    """target size -> events actually generated (the target where generate is missing)."""
    got = {r["events_target"]: r["events"] for r in rows if r["step"] == "generate" and r.get("events")}
    return {r["events_target"]: got.get(r["events_target"], r["events_target"]) for r in rows}


def latest(rows: list[dict]) -> list[dict]:
    """The last row of each (size, step) (a step run again supersedes its earlier row), by
    step in the order steps first appear, then by size."""
    last = {(r["events_target"], r["step"]): r for r in rows}
    first = {step: i for i, (_, step) in reversed(list(enumerate(last)))}
    return sorted(last.values(), key=lambda r: (first[r["step"]], r["events_target"]))


def series(rows: list[dict]) -> dict[tuple[str, str], tuple[list[int], list[float]]]:
    """(cost, step) -> (events, cost) over the sizes where the step succeeded."""
    events = _events(rows)
    rows = latest(rows)
    out: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
    for r in rows:
        if r.get("status") != "ok":
            continue
        for cost, (fields, _) in COSTS.items():
            field = fields.get(r["step"].split("_")[0])
            if field and r.get(field):
                xs, ys = out.setdefault((cost, r["step"]), ([], []))
                xs.append(events[r["events_target"]])
                ys.append(float(r[field]))
    return out


def slopes(rows: list[dict]) -> dict[tuple[str, str], float]:
    return {k: slope(x, y) for k, (x, y) in series(rows).items() if len(set(x)) >= 2}


def _word(status: str) -> str:
    return "ok" if status == "ok" else "not tried" if status.startswith("not tried") else "BROKE"


def table(rows: list[dict]) -> str:
    events = _events(rows)
    lines = [f"{'events':>11} {'step':<18} {'status':<10} {'seconds':>9} {'peak MB':>8} {'disk MB':>8} "
             f"{'events/s':>9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'load':>5}  note"]
    for r in latest(rows):
        kind = r["step"].split("_")[0]
        secs = r.get({"generate": "wall_s", "import": "import_s"}.get(kind, "fit_s"))
        if r.get("status", "ok") != "ok":
            secs = r.get("wall_s")  # how long it ran before it broke (or was stopped at its cap)
        disk = r.get("store_mb", r.get("model_mb"))
        note = ""
        if kind == "generate" and r.get("users"):
            note = f"{r['users']:,} shoppers, {r['items']:,} items"
        if kind == "serve" and "precompute_of" in r:
            note = (f"{r['model']}: precomputed {r['precompute_lists']:,}/{r['precompute_of']:,} lists in "
                    f"{r['precompute_s']:.0f} s ({r['precompute_lists_per_s']:.0f}/s)")
        if kind == "serve" and "precompute_of" not in r and r.get("model"):
            note = f"{r['model']}: every request scores (list cache off)"
        if "params" in r:
            note = f"params {r['params']}"
        if r.get("status", "ok") != "ok":
            note = r["status"]
        fmt = lambda v, spec: format(v, spec) if isinstance(v, (int, float)) else ""  # noqa: E731
        lines.append(f"{events.get(r['events_target'], r['events_target']):>11,} {r['step']:<18} "
                     f"{_word(r.get('status', '')):<10} {fmt(secs, '9.1f'):>9} "
                     f"{fmt(r.get('peak_rss_mb'), '8.0f'):>8} {fmt(disk, '8.1f'):>8} "
                     f"{fmt(r.get('events_per_s'), '9,.0f'):>9} {fmt(r.get('rps'), '7,.0f'):>7} "
                     f"{fmt(r.get('p50_ms'), '7.1f'):>7} {fmt(r.get('p99_ms'), '7.1f'):>7} "
                     f"{fmt(r.get('load1'), '5.2f'):>5}  {note}")
    lines.append("seconds: generate wall time, import time, fit time (the engine's figure); the step's wall "
                 "time where it broke; "
                 "peak MB: the step's process tree (server, JVM included); disk: store or model files")
    found = slopes(rows)
    if found:
        lines.append("slope of log(cost) against log(events) (1: linear, 2: quadratic):")
        lines += [f"  {cost:<12} {step:<18} {s:+.2f}" for (cost, step), s in sorted(found.items())]
    return "\n".join(lines)


def plot(rows: list[dict], folder: Path) -> list[Path]:
    """One PNG per cost: each step's cost against events, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    found, paths = series(rows), []
    for cost, (_, unit) in COSTS.items():
        lines = {step: xy for (c, step), xy in found.items() if c == cost}
        if not lines:
            continue
        fig, ax = plt.subplots(figsize=(7, 5))
        for step, (x, y) in sorted(lines.items()):
            label = step if len(set(x)) < 2 else f"{step} (slope {slope(x, y):.2f})"
            ax.plot(x, y, marker="o", label=label)
        ax.set(xscale="log", yscale="log", xlabel="events", ylabel=f"{cost} ({unit})",
               title=f"{cost} against shop size (2 shared cores)")
        ax.legend(fontsize=7)
        path = folder / f"{cost.replace(' ', '_').replace('/', '_per_')}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
        print(f"wrote {path}")
    return paths
