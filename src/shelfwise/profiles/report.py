"""A segmentation's report: the indices against k and the segments' sizes and centroids, as a
plot and a Markdown table beside the persisted ``segmentation.json``."""

from __future__ import annotations

from pathlib import Path

from shelfwise.profiles.segments import Segmentation


def write_report(seg: Segmentation, folder: Path) -> list[Path]:
    """Write ``segments.png`` and ``segments.md`` into ``folder``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    ks = [c["k"] for c in seg.candidates]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(ks, [c["seed_db"] for c in seg.candidates], "o-", label="Davies-Bouldin (seed: mean pairwise)")
    left.plot(ks, [c["sklearn_db"] for c in seg.candidates], "s--", label="Davies-Bouldin (scikit-learn)")
    left.plot(ks, [c["silhouette"] for c in seg.candidates], "^:", label="silhouette")
    left.axvline(seg.k, color="grey", lw=0.8)
    left.set_xlabel("k")
    left.legend(fontsize=8)
    left.set_title(f"k = {seg.k} chosen by the seed's index")
    right.barh([f"{s['id']}: {s['name']}" for s in seg.segments], [s["size"] for s in seg.segments])
    right.set_xlabel("shoppers")
    right.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    png = folder / "segments.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    cols = list(seg.segments[0]["profile"]) if seg.segments else []
    lines = [f"# Segments ({seg.n_shoppers} shoppers, k = {seg.k})", "",
             "| k | seed DB | scikit-learn DB | silhouette |", "|---|---|---|---|"]
    lines += [f"| {c['k']} | {c['seed_db']:.4f} | {c['sklearn_db']:.4f} | {c['silhouette']:.4f} |"
              for c in seg.candidates]
    lines += ["", "Feature preparation:", "", *[f"- {line}" for line in seg.prep["report"]], "",
              "| segment | name | size | " + " | ".join(cols) + " |", "|---" * (len(cols) + 3) + "|"]
    lines += [f"| {s['id']} | {s['name']} | {s['size']} | " + " | ".join(f"{s['profile'][c]:.3g}" for c in cols) + " |"
              for s in seg.segments]
    md = folder / "segments.md"
    md.write_text("\n".join(lines) + "\n")
    return [png, md]
