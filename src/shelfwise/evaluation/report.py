"""Evaluation reports: a rich table for the terminal, and a folder with CSV, Markdown and
PNG plots (F1 against list length K = 1..50 for every model, as in the seed study of
e-commerce push methods; NDCG@10 against fit time)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from rich import box
from rich.table import Table

from shelfwise.evaluation.harness import Result, results_frame
from shelfwise.evaluation.metrics import hit_matrix

TABLE_COLUMNS = ("precision@10", "recall@10", "f1@10", "hr@10", "ndcg@10", "map@10", "mrr@10",
                 "coverage", "novelty", "diversity", "arp", "fit_s", "fit_peak_mb",
                 "ms_per_user_batch", "latency_p50_ms", "latency_p99_ms")
SHORT = {"precision@10": "P@10", "recall@10": "R@10", "f1@10": "F1@10", "hr@10": "HR@10",
         "ndcg@10": "NDCG@10", "map@10": "MAP@10", "mrr@10": "MRR@10", "coverage": "cover",
         "novelty": "novel", "diversity": "ILD", "arp": "ARP", "fit_s": "fit s",
         "fit_peak_mb": "fit MB", "ms_per_user_batch": "batch ms/user",
         "latency_p50_ms": "p50 ms", "latency_p99_ms": "p99 ms"}
#: counts, printed as integers
COUNTS = ("test_users", "cold_users")
CAPTION = ("ILD: intra-list diversity; ARP: mean popularity of recommended items; novel: mean "
           "self-information (bits); batch ms/user: one batch call over all test users divided "
           "by their number (throughput); p50/p99 ms: latency of single-user recommend calls")

FAIRNESS_CAPTION = ("exposure_gini@10: Gini index of how often each item is in a top-10 list (0 = equal "
                    "exposure); brand_gap@10: total-variation distance between brands' share of top-10 slots "
                    "and their share of training purchases (NaN without brands); ndcg@10_low/mid/high: "
                    "NDCG@10 of the least, middle and most active third of test shoppers by training events")


def rich_table(frame: pd.DataFrame, title: str = "Evaluation") -> Table:
    # light rules and single spaces between columns: every column fits a 150-wide console
    table = Table(title=title, caption=CAPTION, box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    table.add_column("model")
    cols = [c for c in TABLE_COLUMNS if c in frame.columns]
    for c in cols:
        table.add_column(SHORT.get(c, c), justify="right")
    for model, row in frame.iterrows():
        table.add_row(str(model), *(f"{row[c]:.4f}" if "@" in c or c in (
            "coverage", "diversity", "arp") else f"{row[c]:.3f}" if c == "ms_per_user_batch"
            else f"{row[c]:.2f}" for c in cols))
    return table


def markdown_table(frame: pd.DataFrame) -> str:
    head = "| model | " + " | ".join(frame.columns) + " |"
    rule = "|---|" + "---:|" * len(frame.columns)
    rows = [f"| {idx} | " + " | ".join(f"{v:.0f}" if c in COUNTS else f"{v:.4f}"
                                        for c, v in row.items()) + " |"
            for idx, row in frame.iterrows()]
    return "\n".join([head, rule, *rows])


def f1_curve(recs: np.ndarray, truth: list[np.ndarray], k_max: int = 50) -> np.ndarray:
    """Mean F1@K for K = 1..k_max, shape (k_max,)."""
    k_max = min(k_max, recs.shape[1])
    # per_user's F1 at every K at once: hits at the first K ranks are a prefix sum
    n_hit = hit_matrix(recs[:, :k_max], truth).cumsum(axis=1).astype(np.float64)  # (n_users, k_max)
    n_rel = np.maximum(np.array([len(np.unique(t)) for t in truth], dtype=np.float64), 1)[:, None]
    precision, recall = n_hit / np.arange(1, k_max + 1), n_hit / n_rel
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                   where=(precision + recall) > 0)
    return f1.mean(axis=0)


def write_report(folder: str | Path, results: list[Result], truth: list[np.ndarray],
                 title: str = "shelfwise evaluation", fairness: pd.DataFrame | None = None) -> Path:
    """metrics.csv, f1_by_k.png/.csv, ndcg_vs_fit_time.png and report.md in ``folder``;
    ``fairness`` (models x ``evaluation.fairness`` metrics) adds fairness.csv and its section."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frame = results_frame(results)
    frame.to_csv(folder / "metrics.csv")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    curves = {}
    for r in results:
        curves[r.model] = f1_curve(r.recs, truth)
        ax.plot(np.arange(1, len(curves[r.model]) + 1), curves[r.model], label=r.model)
    ax.set(xlabel="list length K", ylabel="F1@K", title=f"{title}: F1 by list length")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "f1_by_k.png", dpi=120)
    plt.close(fig)
    pd.DataFrame(curves, index=pd.RangeIndex(1, len(next(iter(curves.values()))) + 1,
                                             name="k")).to_csv(folder / "f1_by_k.csv")
    if "ndcg@10" in frame:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter(frame["fit_s"], frame["ndcg@10"])
        for model, row in frame.iterrows():
            ax.annotate(str(model), (row["fit_s"], row["ndcg@10"]))
        ax.set(xlabel="fit seconds", ylabel="NDCG@10", title=f"{title}: accuracy vs cost")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(folder / "ndcg_vs_fit_time.png", dpi=120)
        plt.close(fig)
    cols = [c for c in TABLE_COLUMNS if c in frame.columns]
    n_cold = int(frame["cold_users"].iloc[0]) if "cold_users" in frame and len(frame) else 0
    (folder / "report.md").write_text(
        f"# {title}\n\nFull ranking, seen items excluded; {len(truth)} test users, of which "
        f"{n_cold} unknown to training (scored with the popularity fallback the engine serves "
        f"them).\n\n" + CAPTION + ".\n\n"
        + markdown_table(frame[cols]) + "\n\n![F1 by K](f1_by_k.png)\n"
        + ("" if fairness is None else "\n## Fairness\n\n" + FAIRNESS_CAPTION + ".\n\n" + markdown_table(fairness)
           + "\n"))
    if fairness is not None:
        fairness.to_csv(folder / "fairness.csv")
    return folder
