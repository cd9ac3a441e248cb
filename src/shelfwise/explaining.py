"""The Engine's explanations: why an item is (or is not) in a shopper's list.

``Explaining`` is a mixin of ``Serving`` (it uses ``_load``, ``_live``, ``_blocked`` and
``_paths`` from there), kept apart so each file reads on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from shelfwise.explanations import item_label, ordinal, popularity_statement, rank_of
from shelfwise.models.base import Recommender
from shelfwise.ranking.features import Histories
from shelfwise.ranking.reasons import ListReasons

if TYPE_CHECKING:
    from shelfwise.serving import _Live


class Explaining:
    def explain(self, user_id: str, item_id: str, model: str | None = None) -> list[str]:
        """Plain-language statements about ``item_id`` for this shopper, each true of the
        trained view and of what ``recommend`` would serve them:

        - a shopper with no usable events gets the popularity fallback: the item's rank in the
          shop's popularity list ("most popular" only within the top ``TOP_POPULAR``);
        - an item the shopper already has, or the model cannot rank, is said to be so;
        - the hybrid gives the reason chosen from the features that drove the item's score,
          then its rank; other models with the ``explain`` capability give the history items
          behind the score, then the rank; any other model gives only the rank.
        """
        rec, view = self._load(model)
        i = view.item_index.get(str(item_id))
        if i is None:
            return [f"{item_id} is not in the trained catalogue, so no model recommends it"]
        label = item_label(view, i)
        live = self._live(view, str(user_id))
        if live.empty and live.user_index is None:
            return [popularity_statement(self._load("popular")[0], i, label)]
        policy = list(self.settings.exclude_types)
        if i in set(self._blocked(live, policy).tolist()):
            return [f"you have already interacted with {label} ({', '.join(policy)}), so it is not "
                    "recommended to you again"]
        if "ranking" in rec.capabilities:
            return self._explain_hybrid(rec, view, live, i, label, policy)
        scores = self._single_scores(rec, live)
        scores[self._blocked(live, policy)] = -np.inf
        if not np.isfinite(scores[i]):
            return [f"the {rec.name} model cannot rank {label} for you"]
        rank = ordinal(rank_of(scores, i))
        if rec.name == "popular":
            return [popularity_statement(rec, i, label), f"ranked {rank} for you by the "
                    "popular model, once what you have seen is left out"]
        if "explain" not in rec.capabilities or live.user_index is None:
            return [f"ranked {rank} for you by the {rec.name} model, which gives no reasons"]
        reasons = [f"because you showed interest in {item_label(view, j)} (weight {w:.3f})"
                   for j, w in rec.explain(live.user_index, i)]
        if not reasons:
            reasons = [f"nothing in your history points to {label}"]
        return [*reasons, f"ranked {rank} for you by the {rec.name} model"]

    def _single_scores(self, rec: Recommender, live: _Live) -> np.ndarray:
        if not live.empty and {"live", "sequence"} & rec.capabilities:
            score = rec.score_sequences if "sequence" in rec.capabilities else rec.score_histories
            return np.array(score([live.items], [live.types], [live.times])[0], dtype=np.float32)
        return rec.score(np.array([live.user_index]))[0].copy()

    def _explain_hybrid(self, rec, view, live: _Live, i: int, label: str, policy) -> list[str]:
        ranked = rec.rank_history(live.items, live.types, live.times, view.n_items,
                                  user_index=live.user_index, exclude_types=policy)
        where = np.flatnonzero(ranked.items == i)
        if len(where) == 0:
            return [f"no model of the hybrid proposes {label} for you, so it does not rank it"]
        k = int(where[0])
        reason = ListReasons(rec, view, Histories.single(live.items, live.types, live.times), ranked,
                              *self._paths(view)).at([k])[0]
        out = [reason.text, f"ranked {ordinal(k + 1)} for you by the hybrid ({rec.fusion} ranker)"]
        if reason.contributions:
            parts = ", ".join(f"{name} {value:+.3f}" for name, value in reason.contributions.items())
            out.append(f"largest feature contributions to its score: {parts}")
        return out


