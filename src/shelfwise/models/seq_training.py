"""Training of a sequential recommender: the epochs with validation, early stopping, the
time budget and the refit epochs, length-bucketed batches and their inputs, as a mixin of
``SequentialRecommender`` (``models.sequential``), which holds the settings read here.

The loop runs alone (``OneProcess``) or as one rank of several (``seq_distributed.Ranks``,
under ``DistributedDataParallel``); the ranks see the same data and draw the same random
numbers, so they take the same batches and decisions, and each computes its share of every
batch."""

from __future__ import annotations

import time

import numpy as np

from shelfwise.models.seq_data import TrainingSet, length_batches


class OneProcess:
    """The training loop's peers when it runs alone: its share of anything is all of it."""

    rank, world = 0, 1

    def share(self, n: int) -> np.ndarray:
        """The positions, of ``n`` rows, this process computes."""
        return np.arange(n)

    def total(self, values: list[float]) -> np.ndarray:
        """``values`` summed over the processes."""
        return np.asarray(values, dtype=np.float64)


ONE_PROCESS = OneProcess()


class SequenceTraining:
    def _train(self, net, data: TrainingSet, rng, ties, start: float, ranks=ONE_PROCESS):
        """Train ``net`` (the network, or ``DistributedDataParallel`` around it) on ``data``
        from perf_counter time ``start``; returns (history, best validation NDCG@10).

        Each user's last training event is held out for validation; training stops when
        validation NDCG@10 has not improved for ``patience`` epochs or the ``max_minutes``
        budget is spent, keeping the best epoch, then trains ``refit_epochs`` more on the
        full sequences, averaging the weights after each of them."""
        import torch

        module = getattr(net, "module", net)  # the network itself under DDP
        n_items, budget = data.n_items, self.max_minutes * 60
        opt = torch.optim.Adam(module.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        deadline = start + budget
        trainable = np.flatnonzero((data.train[0] > 0).sum(1) >= 2)
        best, best_state, stale, history = -1.0, None, 0, []
        for epoch in range(self.max_epochs):
            self._reorder_ties(data.train, data.tied_train, ties)
            losses = self._epoch(net, opt, data.train, trainable, n_items, rng, deadline, ranks)
            ndcg = self._validate(module, data.val_batch, data.val_seen, data.val_targets, ranks)
            history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)),
                            "val_ndcg@10": ndcg, "seconds": time.perf_counter() - start})
            if self.verbose:
                print(history[-1], flush=True)
            if self._on_epoch is not None:
                self._on_epoch(epoch + 1, ndcg)
            if ndcg > best:
                best, stale = ndcg, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                stale += 1
            elapsed = time.perf_counter() - start
            refit_cost = self.refit_epochs * elapsed / (epoch + 1)  # keep the budget for them
            # validation NDCG is the same on every rank, the clocks are not: any rank out of
            # time stops them all
            if ranks.total([stale >= self.patience or elapsed + refit_cost > budget])[0]:
                break
        module.load_state_dict(best_state)
        # The held-out items are each shopper's most recent transition: once validation has
        # chosen the model, train a little on the full sequences so it learns them.
        self._refit(net, opt, data, rng, ties, deadline, ranks)
        return history, best

    def _refit(self, net, opt, data: TrainingSet, rng, ties, deadline: float, ranks=ONE_PROCESS) -> int:
        """``refit_epochs`` epochs on the full sequences (each user's last item included),
        averaging the weights after each of them; returns the epochs done before ``deadline``."""
        module = getattr(net, "module", net)
        rows = np.flatnonzero((data.full[0] > 0).sum(1) >= 2)
        average, done = None, 0
        for _ in range(self.refit_epochs):
            if ranks.total([time.perf_counter() >= deadline])[0]:
                break
            self._reorder_ties(data.full, data.tied, ties)
            self._epoch(net, opt, data.full, rows, data.n_items, rng, deadline, ranks)
            # the weights after each refit epoch are averaged (stochastic weight
            # averaging): one epoch's weights are as much noise as learning at this lr
            done += 1
            state = module.state_dict()
            average = {k: v.detach().clone() for k, v in state.items()} if average is None \
                else {k: a + (state[k] - a) / done for k, a in average.items()}
        if done > 1:
            module.load_state_dict(average)
        return done

    def _epoch(self, net, opt, arrays, rows, n_items, rng, deadline: float,
               ranks=ONE_PROCESS) -> list[float]:
        """One pass over ``rows`` of (items, types, gaps) in length-bucketed batches, cut
        short at ``deadline`` (perf_counter seconds): on a big catalogue one full-softmax
        epoch can outlast the whole ``max_minutes`` budget. Each rank computes its share of
        a batch's rows; its loss is weighted by its share of the batch's positions, so the
        gradients DDP averages are those of the whole batch's mean loss."""
        import torch

        net.train()
        items, types, gaps = arrays
        lengths = (items > 0).sum(1)
        losses = []
        for batch in length_batches(lengths, rows, self.batch_size, rng):
            cut = items.shape[1] - int(lengths[batch].max())  # columns that are all padding
            inputs = self._batch_inputs(items[batch, cut:], types[batch, cut:],
                                        gaps[batch, cut:], n_items, rng)
            valid = inputs[3]
            negatives = None
            if self.loss_ == "sampled" and valid.any():
                negatives = torch.from_numpy(rng.integers(0, n_items, self.n_negatives))
            mine = ranks.share(len(batch))
            if len(mine) == 0:  # fewer rows than ranks: a row of no weight keeps step with DDP
                mine, inputs = np.arange(1), (*inputs[:3], np.zeros_like(valid), inputs[4])
            loss = net(*(torch.from_numpy(a[mine]) for a in inputs), negatives)
            if ranks.world > 1 and valid.any():
                share = int(inputs[3][mine].sum()) / int(valid.sum())
                loss = loss * (share * ranks.world)
            opt.zero_grad()
            loss.backward()
            opt.step()
            # one sum over the ranks per batch: the batch's mean loss, and whether any rank
            # is out of time (all must stop at the same batch, or DDP waits for the missing)
            total, late = ranks.total([loss.item() / ranks.world,
                                       time.perf_counter() >= deadline])
            losses.append(float(total))
            if late:
                break
        return losses

    def _batch_inputs(self, items, types, gaps, n_items, rng):
        """(items, types, gaps, valid, targets) (B, L) of one batch: next-item prediction at
        every position for causal encoders, masked-item prediction for bidirectional ones.
        Drawn for the whole batch, so every rank draws the same random numbers."""
        if self.causal_:
            x_items, y = items[:, :-1], items[:, 1:]
            return x_items, types[:, :-1], gaps[:, :-1], (x_items > 0) & (y > 0), y
        real = items > 0
        masked = real & (rng.random(items.shape) < self.mask_prob)
        # always mask the latest event of some rows: the position asked at inference
        masked[:, -1] |= real[:, -1] & (rng.random(len(items)) < 0.5)
        return (np.where(masked, n_items + 1, items), np.where(masked, 0, types), gaps, masked,
                items)
