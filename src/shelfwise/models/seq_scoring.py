"""Scoring of a sequential recommender, as a mixin of ``SequentialRecommender``
(``models.sequential``), which holds the fitted network ``net_``, each shopper's latest
events (``history_items_``, ``history_types_``, ``history_gaps_``, ``history_ties_``, all
(n_users, max_len), left-padded), the settings read here (``max_len``, ``causal_``,
``tie_orders``, ``seed``) and the event encoding ``_encode`` and ``_ties`` that training
uses too."""

from __future__ import annotations

import numpy as np

from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.models.base import score_block
from shelfwise.models.seq_data import left_pad, permute_ties


class SequenceScoring:
    def _forward_last(self, net, batch, rows=None) -> np.ndarray:
        import torch
        items, types, gaps = batch if rows is None else (b[rows] for b in batch)
        cut = max(0, items.shape[1] - int((items > 0).sum(1).max(initial=1)))
        items, types, gaps = items[:, cut:], types[:, cut:], gaps[:, cut:]
        with torch.no_grad():
            h = net.hidden(torch.from_numpy(items), torch.from_numpy(types),
                           torch.from_numpy(gaps))[:, -1]
            return net.logits(h).numpy()

    def _validate(self, net, batch, seen, targets, ranks=None) -> float:
        """NDCG@10 of the (V,) ``targets`` after the validation inputs ``batch`` ((items,
        types, gaps) (V, max_len)), each user's history ``seen`` (V arrays of items + 1) not
        ranked. Over several processes (``ranks``) each scores its share of the users."""
        net.eval()
        gains = []
        step = score_block(self.n_items_)
        mine = np.arange(len(targets)) if ranks is None else ranks.share(len(targets))
        for b in range(0, len(mine), step):
            rows = mine[b:b + step]
            scores = self._forward_history(tuple(a[rows] for a in batch), net)
            for r, row in enumerate(rows):
                scores[r, seen[row] - 1] = -np.inf  # the user's history is excluded
            target_score = scores[np.arange(len(rows)), targets[rows]]
            rank = (scores > target_score[:, None]).sum(1)
            gains.append(np.where(rank < 10, 1.0 / np.log2(rank + 2), 0.0))
        if ranks is not None and ranks.world > 1:
            total, count = ranks.total([sum(g.sum() for g in gains), len(mine)])
            return float(total / count) if count else 0.0
        return float(np.concatenate(gains).mean()) if gains else 0.0

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        hist = (self.history_items_[user_indices], self.history_types_[user_indices],
                self.history_gaps_[user_indices])
        ties = self.history_ties_[user_indices] if self.history_ties_ is not None else None
        return self._log_probabilities(hist, ties)

    def _log_probabilities(self, hist, ties) -> np.ndarray:
        """Log-probabilities (B, n_items) of each row's next item after its (items, types,
        gaps) ``hist`` (B, max_len). Where events tie in time (``ties`` (B, max_len): tied
        with the event before), their order is unknown, so the probabilities are averaged over
        ``tie_orders`` random orders of the tied runs (the stored order first): a basket
        bought in one go is scored as a set, not as whichever item the file listed last."""
        import torch
        logp = torch.log_softmax(torch.from_numpy(self._forward_history(hist)), 1)
        rows = np.flatnonzero(ties.any(1)) if ties is not None and self.tie_orders > 1 else []
        if len(rows):
            rng = np.random.default_rng(self.seed)  # the same orders on every call
            sub = tuple(a[rows] for a in hist)
            total = logp[rows]
            for _ in range(self.tie_orders - 1):
                order = (*permute_ties(sub[0], sub[1], ties[rows], rng), sub[2])
                total = torch.logaddexp(
                    total, torch.log_softmax(torch.from_numpy(self._forward_history(order)), 1))
            logp[rows] = total - np.log(self.tie_orders)
        return logp.numpy()

    def _forward_history(self, hist, net=None) -> np.ndarray:
        """Next-item scores (B, n_items) after each row of (items, types, gaps) (B, max_len),
        from ``net`` (default: the fitted ``net_``); bidirectional encoders get a mask token
        appended."""
        if not self.causal_:
            # drop each row's oldest slot and append the mask token
            n = len(hist[0])
            hist = (np.c_[hist[0][:, 1:], np.full(n, self.n_items_ + 1)],
                    np.c_[hist[1][:, 1:], np.zeros(n, np.int64)],
                    np.c_[hist[2][:, 1:], np.zeros(n, np.float32)])
        return self._forward_last(self.net_ if net is None else net, hist)

    def score_sequences(self, items: list, types: list | None = None,
                        times: list | None = None) -> np.ndarray:
        """Next-item log-probabilities (B, n_items) for arbitrary recent-event sequences (item
        indices, oldest first; behaviour type names or codes; unix times): how a session in
        progress is served before the next retrain. Without ``times`` the given order is
        the order; events given the same time are averaged over orders, as in ``_score``."""
        self.check_is_fitted()
        codes = {t: i for i, t in enumerate(EVENT_TYPES)}
        it, ty, gp, tf = [], [], [], []
        for k, seq in enumerate(items):
            seq = np.asarray(seq, dtype=np.int64)
            raw_t = types[k] if types is not None else ["view"] * len(seq)
            t = np.array([codes.get(x, x) if isinstance(x, str) else x for x in raw_t], np.int64)
            tm = np.asarray(times[k], np.float64) if times is not None else np.zeros(len(seq))
            for out, arr in zip((it, ty, gp), self._encode(seq, t, tm), strict=True):
                out.append(arr)
            tf.append(self._ties(seq, t, tm) if times is not None else np.zeros(len(it[-1]), bool))
        L = self.max_len
        hist = (left_pad(it, L, np.int64), left_pad(ty, L, np.int64), left_pad(gp, L, np.float32))
        ties = left_pad(tf, L, bool)
        step = score_block(self.n_items_)  # bounds each dense (block, n_items) forward pass
        blocks = [self._log_probabilities(tuple(a[b:b + step] for a in hist), ties[b:b + step])
                  for b in range(0, len(it), step)]
        return np.concatenate(blocks) if blocks else np.zeros((0, self.n_items_), np.float32)
