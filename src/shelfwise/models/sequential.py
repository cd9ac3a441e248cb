"""Sequential recommenders: next-item prediction over each shopper's behaviour sequence.

One model, interchangeable encoders (``seq_encoders``): ``sasrec`` and ``gru4rec`` are
trained on next-item prediction at every position; ``bert4rec`` and ``bilstm_transformer``
see both directions, so they are trained by masked-item prediction and asked for the item
behind a mask appended to the sequence. The loss is full-softmax cross-entropy over the
whole catalogue (SASRec+ / "SASRec with CE", Klenitskiy & Vasilev 2023), computed in item
chunks so its (positions x items) logits are never held at once and memory stays bounded
on catalogues of 100k+ items (``seq_encoders.softmax_cross_entropy``), or, with
``loss="sampled"``, a sampled softmax over ``n_negatives`` uniform negatives shared by the
batch. ``loss="auto"`` is the full softmax at any catalogue size.

Inputs per event: item, behaviour type and the log-bucketed time since the previous event;
item attributes (``attribute_ids`` or the category path in the catalogue) are mean-pooled
into the item embedding when ``use_attributes``, leaving out any attribute on more than
``MAX_ATTRIBUTE_SHARE`` of the catalogue (a root category, an "unknown" code), which cannot
tell items apart. With ``item_groups`` each item also gets groups learnt from the training
events (``seq_groups``: k-means over an SVD of the user-item matrix, ``GROUP_SIZES`` items per
group), fed through the same attribute bag: on bare events they are the only attributes.
Events tied in time (day-resolution dates, files without times) are put in a fresh seeded
random order every epoch: their file order is not the shopper's. For the same reason a
shopper with tied events among the latest ``max_len`` is scored by the next-item
probabilities averaged over ``tie_orders`` random orders of them (``seq_scoring``); scores
are log-probabilities.

Each user's last training event is held out for validation; training stops when validation
NDCG@10 has not improved for ``patience`` epochs or the ``max_minutes`` budget is spent,
keeping the best epoch, and then trains ``refit_epochs`` more on the full sequences (the
held-out transitions are each shopper's most recent, the most predictive of what comes
next), averaging the weights after each refit epoch (stochastic weight averaging). Time is
kept back for the refit epochs from the measured epoch length; an epoch that would run past
the budget (search or refit) is cut short there, and refit epochs are skipped once the
budget is spent.
Batches group sequences of similar length and drop all-padding columns, so short histories
cost little. With ``processes`` > 1 the training loop runs on that many processes under
PyTorch's DistributedDataParallel (``seq_distributed``), each computing its share of every
batch; the fitted model is the same kind of object as one process fits.

Needs the ``sequential`` extra (``torch``, and ``scikit-learn`` for the item groups).
State is saved as plain arrays in the model's
``.npz``: no pickled code.
"""

from __future__ import annotations

import time

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.models.base import Recommender, zero_rows
from shelfwise.models.params import Interval, Options
from shelfwise.models.seq_data import (
    TrainingSet,
    attribute_table,
    collapse_repeats,
    drop_last_item,
    has_ties,
    left_pad,
    shuffle_ties,
    tie_flags,
)
from shelfwise.models.seq_scoring import SequenceScoring
from shelfwise.models.seq_training import SequenceTraining

ENCODERS = ("sasrec", "bert4rec", "gru4rec", "bilstm_transformer")
MAX_ATTRIBUTE_SHARE = 0.5  # attributes on more of the catalogue than this are dropped
GROUP_SIZES = (100, 10)  # items per co-occurrence group, one level each (seq_groups)


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Sequential models need PyTorch: pip install 'shelfwise[sequential]' "
                          "-c constraints.txt") from exc
    return torch


class SequentialRecommender(SequenceTraining, SequenceScoring, Recommender):
    name = "sequential"
    capabilities = frozenset({"sequence"})
    default_encoder = "sasrec"
    extra = "sequential"
    requires = ("torch", "sklearn")
    _parameter_constraints = {
        "encoder": Options(frozenset({None, *ENCODERS})),
        "dim": Interval(int, 8), "layers": Interval(int, 1), "heads": Interval(int, 1),
        "max_len": Interval(int, 2), "dropout": Interval(float, 0, 1, closed="left"),
        "loss": Options(frozenset({"auto", "ce", "sampled"})), "n_negatives": Interval(int, 1),
        "mask_prob": Interval(float, 0, 1, closed="neither"),
        "lr": Interval(float, 0, closed="neither"), "weight_decay": Interval(float, 0),
        "batch_size": Interval(int, 1), "max_epochs": Interval(int, 1),
        "patience": Interval(int, 1), "max_minutes": Interval(float, 0, closed="neither"),
        "refit_epochs": Interval(int, 0), "tie_orders": Interval(int, 1),
        "n_validation_users": Interval(int, 1),
        "use_types": Options(frozenset({True, False})),
        "use_time": Options(frozenset({True, False})),
        "use_attributes": Options(frozenset({True, False})),
        "item_groups": Options(frozenset({True, False})),
        "processes": Interval(int, 1),
        "seed": Interval(int, 0), "verbose": Options(frozenset({True, False})),
    }

    def __init__(self, *, encoder: str | None = None, dim: int = 64, layers: int = 2,
                 heads: int = 2, max_len: int = 50, dropout: float = 0.3, loss: str = "auto",
                 n_negatives: int = 1024, mask_prob: float = 0.2, lr: float = 2e-3,
                 weight_decay: float = 0.0, batch_size: int = 128, max_epochs: int = 200,
                 patience: int = 5, max_minutes: float = 15.0, refit_epochs: int = 6,
                 tie_orders: int = 8, n_validation_users: int = 5000,
                 use_types: bool = True, use_time: bool = True, use_attributes: bool = True,
                 item_groups: bool = True, processes: int = 1, seed: int = 0,
                 verbose: bool = False):
        self.encoder = encoder
        self.dim = dim
        self.layers = layers
        self.heads = heads
        self.max_len = max_len
        self.dropout = dropout
        self.loss = loss
        self.n_negatives = n_negatives
        self.mask_prob = mask_prob
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.max_minutes = max_minutes
        self.refit_epochs = refit_epochs
        self.tie_orders = tie_orders
        self.n_validation_users = n_validation_users
        self.use_types = use_types
        self.use_time = use_time
        self.use_attributes = use_attributes
        self.item_groups = item_groups
        self.processes = processes
        self.seed = seed
        self.verbose = verbose

    @property
    def encoder_(self) -> str:
        return self.encoder or self.default_encoder

    @property
    def causal_(self) -> bool:
        from shelfwise.models.seq_encoders import CAUSAL

        return CAUSAL[self.encoder_]

    # -- data -----------------------------------------------------------------------------
    def _encode(self, it: np.ndarray, ty: np.ndarray, tm: np.ndarray):
        """One shopper's events in order -> (items + 1, type codes + 1, gaps in seconds),
        repeats collapsed."""
        it, ty, tm = collapse_repeats(it, ty, tm)
        types = ty.astype(np.int64) + 1 if self.use_types else np.zeros(len(it), np.int64)
        gap = np.r_[0.0, np.diff(tm)] if self.use_time else np.zeros(len(it))
        return it.astype(np.int64) + 1, types, np.maximum(gap, 0.0)

    @staticmethod
    def _ties(it: np.ndarray, ty: np.ndarray, tm: np.ndarray) -> np.ndarray:
        """Per event of ``_encode``'s output: whether it has the same time as the one before."""
        return tie_flags(collapse_repeats(it, ty, tm)[2])

    def _sequences(self, interactions: Interactions, ties=None):
        """Per-user (items + 1, type codes + 1, gaps in seconds), repeats collapsed, and per
        user the raw (items, types, times) in the order used if some of them tie in time
        (else None), so training can draw a fresh order for them."""
        items, types, gaps, tied = [], [], [], []
        ties = self._tie_stream() if ties is None else ties
        for u in range(interactions.n_users):
            raw = shuffle_ties(*interactions.sequence(u), ties)
            for out, seq in zip((items, types, gaps), self._encode(*raw), strict=True):
                out.append(seq)
            tied.append(raw if has_ties(raw[2]) else None)
        return items, types, gaps, tied

    def _tie_stream(self) -> np.random.Generator:
        """The random stream tied events are ordered from: its own, so untied data is unchanged."""
        return np.random.default_rng(self.seed + 1)

    def _reorder_ties(self, arrays, raws: dict, ties) -> None:
        """Rewrite the given users' rows of padded (items, types, gaps) ``arrays`` with a
        fresh random order of their tied events: no one arbitrary order is learnt as if it
        were the shopper's."""
        width = arrays[0].shape[1]
        for u, raw in raws.items():
            for arr, seq in zip(arrays, self._encode(*shuffle_ties(*raw, ties)), strict=True):
                arr[u] = left_pad([seq], width, arr.dtype)[0]

    def _attributes(self, interactions: Interactions):
        """(n_items + 2, A) attribute ids per item (0 = none) and the attribute count."""
        table, count = None, 0
        if self.use_attributes and interactions.items is not None:
            table, count = attribute_table(interactions, MAX_ATTRIBUTE_SHARE)
        if self.item_groups:
            from shelfwise.models.seq_groups import cooccurrence_groups

            groups = interactions.derived(  # once per data set, not once per tuner trial
                ("item_groups", GROUP_SIZES, self.seed),
                lambda: cooccurrence_groups(interactions.binary, GROUP_SIZES, seed=self.seed))
            if groups.shape[1]:
                rows = np.zeros((interactions.n_items + 2, groups.shape[1]), dtype=np.int64)
                rows[1:-1] = np.where(groups > 0, groups + count, 0)  # after the catalogue's ids
                table = rows if table is None else np.hstack([table, rows])
                count = int(rows.max())
        return table, count

    def _build_net(self, n_items: int, attributes, n_attributes: int):
        torch = _torch()
        from shelfwise.models.seq_encoders import SequenceNet

        attr = torch.from_numpy(attributes) if attributes is not None else None
        return SequenceNet(self.encoder_, n_items, self.dim, self.max_len, self.layers,
                           self.heads, self.dropout, len(EVENT_TYPES), attr, n_attributes)

    # -- fitting -------------------------------------------------------------------------
    _on_epoch = None

    _warm_from = None

    def refit_from(self, earlier: SequentialRecommender, interactions: Interactions) -> SequentialRecommender:
        """Fit on ``interactions`` starting from ``earlier``'s network (fitted with the same
        parameters on a view of the same items, for example all but each shopper's latest
        events): only the ``refit_epochs`` on the full sequences run, no validated search.
        The hybrid's second stage uses it (its first stage has just trained on nearly the
        same log). A different catalogue falls back to an ordinary fit. Returns self."""
        if type(earlier) is not type(self) or earlier.get_params() != self.get_params():
            raise ValueError("refit_from needs a fitted model of the same class and parameters")
        earlier.check_is_fitted()
        self._warm_from = earlier
        try:
            return self.fit(interactions)
        finally:
            self._warm_from = None

    def fit(self, interactions: Interactions, on_epoch=None) -> SequentialRecommender:
        """Learn from ``interactions``; returns self. ``on_epoch(epoch, val_ndcg)`` is called
        after each training epoch (1-based) with its validation NDCG@10: the tuner reports it
        to its pruner, and an exception it raises ends the fit there."""
        self._on_epoch = on_epoch
        try:
            return super().fit(interactions)
        finally:
            self._on_epoch = None

    def _fit(self, interactions: Interactions) -> None:
        torch = _torch()
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        ties = self._tie_stream()
        items, types, gaps, tied = self._sequences(interactions, ties)
        tied = {u: raw for u, raw in enumerate(tied) if raw is not None}
        L = self.max_len
        self.loss_ = "ce" if self.loss == "auto" else self.loss
        warm = self._warm_from
        if warm is not None and warm.n_items_ == interactions.n_items:
            # the earlier fit's attribute table (its item groups came from its own view), so
            # its network's embeddings keep their meaning
            self.attributes_, self.n_attributes_ = warm.attributes_, warm.n_attributes_
        else:
            warm = None
            self.attributes_, self.n_attributes_ = self._attributes(interactions)
        data = self._training_set(items, types, gaps, tied, interactions.n_items, rng)
        if warm is not None:
            net = self._build_net(data.n_items, self.attributes_, self.n_attributes_)
            net.load_state_dict(warm.net_.state_dict())
            opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            start = time.perf_counter()
            done = self._refit(net, opt, data, rng, ties, start + self.max_minutes * 60)
            history = [{"warm_start": True, "refit_epochs": done, "seconds": time.perf_counter() - start}]
            best = warm.best_validation_ndcg_
        elif self.processes > 1:
            from shelfwise.models.seq_distributed import fit_on_ranks

            state, history, best = fit_on_ranks(self, data, rng, ties)
            net = self._build_net(data.n_items, self.attributes_, self.n_attributes_)
            net.load_state_dict(state)
        else:
            net = self._build_net(data.n_items, self.attributes_, self.n_attributes_)
            history, best = self._train(net, data, rng, ties, time.perf_counter())
        net.eval()
        self.net_ = net
        self.history_ = history
        self.best_validation_ndcg_ = best
        # what recommend() reads: each user's latest events, the held-out one included
        self.history_items_ = left_pad(items, L, np.int64)
        self.history_types_ = left_pad(types, L, np.int64)
        self.history_gaps_ = left_pad(gaps, L, np.float32)
        flags = [self._ties(*tied[u]) if u in tied else np.zeros(0, bool)
                 for u in range(len(items))]
        self.history_ties_ = left_pad(flags, L, bool)

    def _training_set(self, items, types, gaps, tied, n_items, rng) -> TrainingSet:
        """The training loop's arrays from per-user encoded sequences and raw tied ones."""
        L = self.max_len
        # validation: each user's last item, predicted from what came before
        lengths = np.array([len(s) for s in items])
        val_users = np.flatnonzero(lengths >= 2)
        if len(val_users) > self.n_validation_users:
            val_users = np.sort(rng.choice(val_users, self.n_validation_users, replace=False))
        train = [(s[:-1], t[:-1], g[:-1]) for s, t, g in zip(items, types, gaps, strict=True)]
        width = L + 1 if self.causal_ else L  # causal: inputs [:-1] predict targets [1:]
        padded = (np.int64, np.int64, np.float32)
        val_inputs = [train[u] for u in val_users]  # everything before the held-out item
        return TrainingSet(
            train=tuple(left_pad([r[k] for r in train], width, dt) for k, dt in enumerate(padded)),
            # tied users' training events: all but those merged into the held-out item
            tied_train={u: drop_last_item(raw) for u, raw in tied.items()},
            full=tuple(left_pad(seqs, width, dt) for seqs, dt in zip((items, types, gaps), padded,
                                                                      strict=True)),
            tied=tied,
            val_batch=tuple(left_pad([v[k] for v in val_inputs], L, dt)
                            for k, dt in enumerate(padded)),
            val_seen=[v[0] for v in val_inputs],
            val_targets=np.array([items[u][-1] - 1 for u in val_users], dtype=np.int64),
            n_items=n_items)

    def _forget(self, users: np.ndarray, view: Interactions) -> None:
        # their latest events go at once (they score as an empty history); the network and
        # item groups they helped learn stay until a refit
        for name in ("history_items_", "history_types_", "history_gaps_", "history_ties_"):
            if getattr(self, name, None) is not None:
                setattr(self, name, zero_rows(getattr(self, name), users))

    # -- persistence --------------------------------------------------------------------
    def _state(self) -> dict:
        state = {f"net.{k}": v.numpy() for k, v in self.net_.state_dict().items()}
        state.update({"history_items_": self.history_items_, "history_types_": self.history_types_,
                      "history_gaps_": self.history_gaps_, "history_ties_": self.history_ties_,
                      "best_validation_ndcg_": float(self.best_validation_ndcg_),
                      "n_attributes_": int(self.n_attributes_)})
        if self.attributes_ is not None:
            state["attributes_"] = self.attributes_
        return state

    def _set_state(self, state: dict) -> None:
        torch = _torch()
        weights = {k[4:]: torch.from_numpy(np.array(v)) for k, v in state.items()
                   if k.startswith("net.")}
        rest = {k: v for k, v in state.items() if not k.startswith("net.")}
        rest.setdefault("attributes_", None)
        rest.setdefault("history_ties_", None)  # saved before ties were kept: stored order only
        super()._set_state(rest)
        net = self._build_net(self.n_items_, self.attributes_, self.n_attributes_)
        net.load_state_dict(weights)
        net.eval()
        self.net_ = net
        self.history_ = []
