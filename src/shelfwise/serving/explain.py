"""Why an item is, or is not, in a shopper's list: the list the pipeline serves them now
(same live history, same model version), explained item by item with the same reasons."""

from __future__ import annotations

import dataclasses

import numpy as np

from shelfwise.explanations import ordinal, popularity_statement_for
from shelfwise.ranking.features import Histories
from shelfwise.ranking.model_reasons import ModelReasons
from shelfwise.serving.pipeline import Pipeline
from shelfwise.serving.types import ListRequest
from shelfwise.serving.variants import ab_request


class Explainer:
    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline

    def explain(self, user_id: str, item_id: str, request: ListRequest | None = None) -> list[str]:
        """Plain-language statements about ``item_id`` for this shopper, each true of what
        ``Pipeline.recommend`` serves them under ``request`` (no exploration slot; in their
        variant of a running A/B test):

        - an item in the served list: the reason the list gives it, then its place;
        - an item below the list: the reason it would carry, then its rank;
        - an item the shopper is not shown again, one the shop's rules hide, or one the model
          cannot rank, is said to be so; a shopper with nothing to go on gets where the item
          stands in the shop's popularity;
        - for the hybrid, the ranker's largest feature contributions to the item's score."""
        p = self.pipeline
        # the shopper's A/B variant first (an interleaved list is explained as asked)
        request = ab_request(p, str(user_id), request or ListRequest())
        request = dataclasses.replace(request, explore=False, log=False)
        name = request.model or p.settings.default_model
        rec, view, version = p.source.load(name)
        i = view.item_index.get(str(item_id))
        if i is None:
            return [f"{item_id} is not in the trained catalogue, so no model recommends it"]
        label = p.views.labels(view)[i]
        live = p.live(view, str(user_id))
        policy = p.policy(request)
        blocked = p.blocked(view, live, policy)
        if i in set(blocked.tolist()):
            said = ", ".join(policy) if policy else "any behaviour"
            return [f"you have already interacted with {label} ({said}), so it is not recommended to you again"]
        rules = p.compiled(view, request.rules, request.shop_rules, str(user_id) if live.personal else "")
        if not rules.shown[i]:
            return [f"{label} is out of stock or hidden by the shop, so it is not shown"]
        served = p._serve(str(user_id), live, rec, view, version, name, request)
        if live.empty and live.user_index is None:  # the popular fallback: where the item stands
            prec, pview, _ = p.source.load("popular")
            stand = popularity_statement_for(prec, pview, str(item_id), label)
            for k, r in enumerate(served.items):
                if r.item_id == str(item_id):
                    return [s for s in (r.reason, stand, f"{ordinal(k + 1)} in your list ({r.source})") if s]
            if not live.personal:  # their list is not theirs, and neither is this
                return ["not personalised: the shopper has not consented to personalisation", stand]
            return [stand]
        for k, r in enumerate(served.items):
            if r.item_id == str(item_id):
                out = [r.reason or "", f"{ordinal(k + 1)} in your list, placed by the {r.model} model ({r.source})"]
                if r.source in ("ranked", "promoted") and r.model == rec.name:
                    out += self._details(rec, view, live, i, blocked, request, r.reason)
                return [s for s in out if s]
        if not rules.eligible[i]:
            return [f"{label} is left out by the shop's rules for this list (category, price or brand)"]
        items, _, _, reasons, why = p.candidates(rec, view, live, view.n_items, blocked, request.context)
        where = np.flatnonzero(items == i)
        if why is not None or reasons is None or len(where) == 0:
            return [f"the {rec.name} model does not rank {label} for you"]
        reason = reasons.of([i]).get(i)
        out = [reason] if reason else []
        out.append(f"ranked {ordinal(int(where[0]) + 1)} for you by the {rec.name} model, "
                   f"below the {len(served.items)} items of your list")
        return out + self._details(rec, view, live, i, blocked, request, reason)

    def _details(self, rec, view, live, i: int, blocked, request, said: str | None) -> list[str]:
        """What lies behind the item's score: the hybrid ranker's feature contributions, or a
        single model's live anchors with their weights (``ModelReasons.explain``)."""
        if "ranking" in rec.capabilities:
            return self._contributions(rec, view, live, i, blocked, request)
        p = self.pipeline
        hist = Histories.single(live.items, live.types, live.times)
        lines = ModelReasons(rec, view, hist, p.views.paths(view), p.views.labels(view),
                             week_counts=p._week_counts(view)).explain(i)
        return [line for line in lines if line != said]

    def _contributions(self, rec, view, live, i: int, blocked, request) -> list[str]:
        """The hybrid ranker's largest feature contributions to item ``i``'s score."""
        frame = self._contribution_frame(rec, view, live, [i], blocked)
        if frame is None or len(frame) == 0:
            return []
        row = frame.iloc[0]
        top = row.abs().sort_values(ascending=False).index[:5]
        parts = ", ".join(f"{c} {row[c]:+.3f}" for c in top)
        return [f"largest feature contributions to its score ({rec.fusion} ranker): {parts}"]

    def contributions(self, user_id: str, item_ids: list[str], request: ListRequest | None = None):
        """The ranker's feature contributions to each item's score for this shopper, as
        ``explain`` states them: a frame (items found x features, bias left out) indexed by
        item id, in the order given; None when the model has no ranker that gives them."""
        p = self.pipeline
        request = request or ListRequest()
        rec, view, _ = p.source.load(request.model or p.settings.default_model)
        if "ranking" not in rec.capabilities:
            return None
        live = p.live(view, str(user_id))
        blocked = p.blocked(view, live, p.policy(request))
        known = [view.item_index[i] for i in item_ids if i in view.item_index]
        frame = self._contribution_frame(rec, view, live, known, blocked)
        if frame is not None:
            frame.index = [str(view.item_ids[k]) for k in frame.index]
        return frame

    def _contribution_frame(self, rec, view, live, items: list[int], blocked):
        """(items the ranker ranks x features) contributions, indexed by item index, bias
        dropped; None without a ranker that gives them."""
        if "ranking" not in rec.capabilities:
            return None
        ranked = rec.rank_history(live.items, live.types, live.times, view.n_items,
                                  user_index=live.user_index, blocked=blocked)
        position = {int(k): r for r, k in enumerate(ranked.items.tolist())}
        where = np.array([position[i] for i in items if i in position], dtype=np.int64)
        if len(where) == 0:
            return None
        contrib = rec.contributions(dataclasses.replace(ranked, items=ranked.items[where],
                                                        scores=ranked.scores[where], rows=ranked.rows[where]))
        if contrib is None:
            return None
        frame = contrib.drop(columns=["bias"])
        frame.index = ranked.items[where].tolist()
        return frame
