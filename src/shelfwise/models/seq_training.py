"""One training pass of a sequential recommender: length-bucketed batches and the loss
(full-softmax cross-entropy in item chunks, or a sampled softmax), as a mixin of
``SequentialRecommender`` (``models.sequential``), which holds the settings it reads:
``causal_``, ``mask_prob``, ``batch_size``, ``loss_`` and ``n_negatives``."""

from __future__ import annotations

import time

import numpy as np

from shelfwise.models.seq_data import length_batches


class SequenceTraining:
    def _epoch(self, net, opt, arrays, rows, n_items, rng, deadline: float) -> list[float]:
        """One pass over ``rows`` of (items, types, gaps) in length-bucketed batches, cut
        short at ``deadline`` (perf_counter seconds): on a big catalogue one full-softmax
        epoch can outlast the whole ``max_minutes`` budget."""
        net.train()
        items, types, gaps = arrays
        lengths = (items > 0).sum(1)
        losses = []
        for batch in length_batches(lengths, rows, self.batch_size, rng):
            cut = items.shape[1] - int(lengths[batch].max())  # columns that are all padding
            loss = self._batch_loss(net, items[batch, cut:], types[batch, cut:],
                                    gaps[batch, cut:], n_items, rng)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if time.perf_counter() >= deadline:
                break
        return losses

    def _batch_loss(self, net, items, types, gaps, n_items, rng):
        import torch

        from shelfwise.models.seq_encoders import softmax_cross_entropy

        if self.causal_:
            x_items, y = items[:, :-1], items[:, 1:]
            x_types, x_gaps = types[:, :-1], gaps[:, :-1]
            valid = (x_items > 0) & (y > 0)
        else:
            real = items > 0
            masked = real & (rng.random(items.shape) < self.mask_prob)
            # always mask the latest event of some rows: the position asked at inference
            masked[:, -1] |= real[:, -1] & (rng.random(len(items)) < 0.5)
            y = items
            x_items = np.where(masked, n_items + 1, items)
            x_types = np.where(masked, 0, types)
            x_gaps, valid = gaps, masked
        h = net.hidden(torch.from_numpy(x_items), torch.from_numpy(x_types),
                       torch.from_numpy(x_gaps))
        mask = torch.from_numpy(valid)
        h, target = h[mask], torch.from_numpy(y)[mask] - 1  # (N, d), (N,)
        if len(target) == 0:
            return h.sum() * 0.0
        table = net.embed.item_table()[1:n_items + 1]  # (n_items, d)
        if self.loss_ == "ce":
            return softmax_cross_entropy(h, table, target)
        negs = torch.from_numpy(rng.integers(0, n_items, self.n_negatives))
        pos = (h * table[target]).sum(-1, keepdim=True)
        neg = h @ table[negs].T
        neg = neg.masked_fill(negs[None, :] == target[:, None], float("-inf"))
        return torch.nn.functional.cross_entropy(torch.cat([pos, neg], 1),
                                                 torch.zeros(len(target), dtype=torch.long))
