"""The hybrid's rows of a benchmark table: its retrievers alone, then the three fusions.

One hybrid is fitted (both stages, see ``shelfwise.ranking.hybrid``); the single-model rows
are its stage-2 retrievers ranking on their own under the same exclusion, and the weighted
and MLP rankers are fitted on the same training groups as LightGBM (``with_fusion``), so the
comparison holds the retrievers fixed. ``exclude`` (users x items) is what the protocol
excludes; None = each model's own exclusion (everything seen for single models, the
hybrid's policy for the hybrid).
"""

from __future__ import annotations

import time

import numpy as np

from shelfwise.evaluation.cost import measure
from shelfwise.evaluation.harness import score_lists
from shelfwise.models import create
from shelfwise.models.base import mask_rows, score_block, top_n

FUSION_LABELS = {"weighted": "hybrid (a) weighted", "lightgbm": "hybrid (b) lambdarank",
                 "mlp": "hybrid (c) mlp"}


def lists(model, users: np.ndarray, exclude=None, k: int = 10) -> np.ndarray:
    """(len(users), k) top lists; with ``exclude`` the model's scores are masked by it."""
    if exclude is None:
        return model.recommend(users, n=k, exclude_seen=True)[0]
    out, step = [], score_block(model.n_items_)
    for b in range(0, len(users), step):
        block = users[b:b + step]
        scores = model.score(block).copy()
        mask_rows(scores, exclude[block])
        out.append(top_n(scores, k)[0])
    return np.concatenate(out)


def hybrid_rows(train, users, truth, *, seq_minutes: float, exclude=None, params=None,
                printer=print) -> list[dict]:
    """Fit the hybrid on ``train`` and print one row per retriever and per fusion."""
    params = dict(params or {})
    rp = params.pop("retriever_params", {})
    rp.setdefault("sasrec", {}).setdefault("max_minutes", seq_minutes)
    hybrid = create("hybrid", retriever_params=rp, **params)
    with measure() as cost:
        hybrid.fit(train)
    printer(f"  hybrid fit (both stages, {len(hybrid.retrievers_)} retrievers): {cost.seconds:.0f} s, "
            f"peak {cost.peak_mb:.0f} MB; ranker trained on {len(hybrid.training_targets_):,} shoppers "
            f"(held-out item among the candidates of {hybrid.candidate_recall_:.1%})")
    rows = []
    for name, model, _ in hybrid.retrievers_:
        m = score_lists(lists(model, users, exclude), truth, train, ks=(10,))
        rows.append({"model": name, **m})
    best_single = max(rows, key=lambda r: r["ndcg@10"])
    for fusion in ("weighted", "lightgbm", "mlp"):
        start = time.perf_counter()
        fused = hybrid if fusion == hybrid.fusion else hybrid.with_fusion(fusion)
        m = score_lists(lists(fused, users, exclude), truth, train, ks=(10,))
        rows.append({"model": FUSION_LABELS[fusion], **m, "extra_s": time.perf_counter() - start})
    for r in rows:
        gain = r["ndcg@10"] / best_single["ndcg@10"] - 1 if best_single["ndcg@10"] else 0.0
        printer(f"{r['model']:<24}{r['hr@10']:>8.4f}{r['ndcg@10']:>9.4f}{r['mrr@10']:>8.4f}"
                f"{gain:>+9.1%}")
    printer(f"  (gain = NDCG@10 over the best single retriever, {best_single['model']}; "
            f"all on the same fits)")
    return rows
