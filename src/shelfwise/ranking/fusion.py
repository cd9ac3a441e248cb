"""Fusion: one score per (shopper, candidate) from the features of ``ranking.features``.

Three rankers behind one interface, each fitted on groups of candidate rows (one group per
shopper, rows contiguous) with a 0/1 label marking the shopper's held-out item:

- ``weighted``: the seed studies' R = a*R_CF + b*R_content + c*R_DL. Each retriever's score
  is min-max normalised within the shopper's candidates (``norm:<retriever>``, 0 when it did
  not propose the item) and the weights are fitted on the groups by coordinate ascent on
  NDCG@10 (Metzler & Croft 2007). Contributions are exact: weight x normalised score.
- ``lightgbm``: LightGBM's lambdarank over every feature (NaN = missing, handled by its
  splits), early-stopped on a tenth of the groups. Contributions are LightGBM's SHAP values
  (``pred_contrib``), which sum to the score.
- ``mlp``: a small multilayer perceptron (PyTorch) trained with the listwise softmax loss
  (the held-out item against the shopper's other candidates). It gives no contributions.

``X`` is (m, F) float32 with the feature names in ``columns``; ``groups`` (G,) int64 sizes.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

MAX_WEIGHT_ROUNDS = 4
WEIGHT_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


def ndcg_at(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int = 10) -> float:
    """Mean NDCG@k over the groups that hold a positive (one positive per group: the
    held-out item); ties are broken against the positive (pessimistic)."""
    starts = np.concatenate([[0], np.cumsum(groups)[:-1]])
    gid = np.repeat(np.arange(len(groups)), groups)
    pos = np.flatnonzero(labels > 0)
    if len(pos) == 0:
        return 0.0
    pos_score = np.full(len(groups), np.inf)
    pos_score[gid[pos]] = scores[pos]
    above = (scores >= pos_score[gid]) & (labels <= 0)
    rank = np.add.reduceat(above.astype(np.int64), starts) if len(scores) else np.zeros(0)
    has = np.isfinite(pos_score)
    gains = np.where(rank[has] < k, 1.0 / np.log2(rank[has] + 2.0), 0.0)
    return float(gains.mean())


class Fusion(ABC):
    name: ClassVar[str] = ""
    #: whether ``contributions`` is available
    explains: ClassVar[bool] = False

    def __init__(self, columns: list[str], seed: int = 0):
        self.columns = list(columns)
        self.seed = seed

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> Fusion: ...

    @abstractmethod
    def predict(self, X: np.ndarray) -> np.ndarray:
        """(m,) float64 scores, higher is better."""

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(m, F + 1) float64 per-feature contributions plus a bias column; rows sum to
        ``predict(X)``."""
        raise NotImplementedError(f"the {self.name} ranker gives no contributions")

    @abstractmethod
    def state(self) -> dict:
        """JSON scalars and numpy arrays that ``restore`` takes back."""

    @abstractmethod
    def restore(self, state: dict) -> Fusion: ...


def _norm_columns(columns: list[str]) -> np.ndarray:
    return np.array([c.startswith("norm:") for c in columns])


class WeightedFusion(Fusion):
    name = "weighted"
    explains = True

    def fit(self, X, y, groups):
        cols = _norm_columns(self.columns)
        Z = np.nan_to_num(X[:, cols].astype(np.float64))
        w = np.ones(Z.shape[1]) / max(Z.shape[1], 1)
        best = ndcg_at(Z @ w, y, groups)
        for _ in range(MAX_WEIGHT_ROUNDS):
            improved = False
            for r in range(Z.shape[1]):
                for value in WEIGHT_GRID:
                    trial = w.copy()
                    trial[r] = value
                    if not trial.any():
                        continue
                    score = ndcg_at(Z @ trial, y, groups)
                    if score > best + 1e-9:
                        best, w, improved = score, trial, True
            if not improved:
                break
        self.weights_ = w
        self.validation_ndcg_ = best
        return self

    def _full_weights(self) -> np.ndarray:
        full = np.zeros(len(self.columns))
        full[_norm_columns(self.columns)] = self.weights_
        return full

    def predict(self, X):
        return np.nan_to_num(X.astype(np.float64)) @ self._full_weights()

    def contributions(self, X):
        parts = np.nan_to_num(X.astype(np.float64)) * self._full_weights()
        return np.c_[parts, np.zeros(len(X))]

    def state(self):
        return {"weights": self.weights_}

    def restore(self, state):
        self.weights_ = np.asarray(state["weights"], dtype=np.float64)
        return self


class LambdaRankFusion(Fusion):
    name = "lightgbm"
    explains = True
    params: ClassVar[dict] = {"objective": "lambdarank", "learning_rate": 0.05, "num_leaves": 31,
                              "min_child_samples": 20, "subsample": 0.8, "subsample_freq": 1,
                              "colsample_bytree": 0.8, "lambdarank_truncation_level": 20,
                              "verbose": -1}

    def fit(self, X, y, groups):
        import lightgbm as lgb

        rng = np.random.default_rng(self.seed)
        g = len(groups)
        held = np.zeros(g, dtype=bool)
        if g >= 1000:  # a tenth of the shoppers decide when to stop adding trees
            held[rng.choice(g, size=max(g // 10, 1), replace=False)] = True
        row_held = np.repeat(held, groups)
        train = lgb.Dataset(X[~row_held], y[~row_held], group=groups[~held], feature_name=self._names(),
                            free_raw_data=True)
        sets, callbacks = [], []
        if held.any():
            sets = [lgb.Dataset(X[row_held], y[row_held], group=groups[held], reference=train)]
            callbacks = [lgb.early_stopping(30, verbose=False)]
        # with fewer shoppers a held-out tenth is too noisy to stop on: a fixed, short run
        rounds = 500 if held.any() else 100
        self.booster_ = lgb.train({**self.params, "seed": self.seed, "eval_at": [10], "num_threads": 0},
                                  train, num_boost_round=rounds, valid_sets=sets, callbacks=callbacks)
        return self

    def _names(self) -> list[str]:
        # LightGBM rejects some characters in feature names
        return [c.replace(":", "__").replace("#", "_") for c in self.columns]

    # one thread: a shopper's few hundred candidates are scored faster than OpenMP wakes its
    # workers, and a server scores concurrent requests on the other cores
    def predict(self, X):
        return self.booster_.predict(X, num_iteration=self.booster_.best_iteration or None, num_threads=1)

    def contributions(self, X):
        return self.booster_.predict(X, num_iteration=self.booster_.best_iteration or None,
                                     pred_contrib=True, num_threads=1)

    def state(self):
        return {"model": self.booster_.model_to_string(num_iteration=self.booster_.best_iteration or None)}

    def restore(self, state):
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_str=state["model"])
        return self


class MLPFusion(Fusion):
    name = "mlp"
    hidden = 64
    epochs = 8
    batch_groups = 256

    def _inputs(self, X):
        """Standardised features with NaN as 0, plus one is-missing flag per feature."""
        missing = np.isnan(X)
        Z = (np.where(missing, self.mean_, X) - self.mean_) / self.std_
        return np.c_[np.clip(Z, -10, 10), missing].astype(np.float32)

    def _net(self, width: int):
        import torch

        torch.manual_seed(self.seed)
        return torch.nn.Sequential(torch.nn.Linear(width, self.hidden), torch.nn.ReLU(),
                                   torch.nn.Linear(self.hidden, self.hidden), torch.nn.ReLU(),
                                   torch.nn.Linear(self.hidden, 1))

    def fit(self, X, y, groups):
        import torch

        X = np.where(np.isfinite(X), X, np.nan).astype(np.float64)
        with warnings.catch_warnings():  # a feature missing everywhere (no prices) is all NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            self.mean_ = np.nan_to_num(np.nanmean(X, axis=0))
            self.std_ = np.nan_to_num(np.nanstd(X, axis=0)) + 1e-6
        Z = torch.from_numpy(self._inputs(X))
        net = self._net(Z.shape[1])
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-5)
        starts = np.concatenate([[0], np.cumsum(groups)])
        pos = np.flatnonzero(y > 0)
        gid = np.repeat(np.arange(len(groups)), groups)
        with_pos = np.unique(gid[pos])
        pos_of = np.full(len(groups), -1)
        pos_of[gid[pos]] = pos
        rng = np.random.default_rng(self.seed)
        for _ in range(self.epochs):
            order = rng.permutation(with_pos)
            for b in range(0, len(order), self.batch_groups):
                chosen = order[b:b + self.batch_groups]
                rows = np.concatenate([np.arange(starts[g], starts[g + 1]) for g in chosen])
                lengths = torch.from_numpy(groups[chosen].astype(np.int64))
                s = net(Z[rows]).squeeze(1)
                seg = torch.repeat_interleave(torch.arange(len(chosen)), lengths)
                top = torch.segment_reduce(s.detach(), "max", lengths=lengths)
                lse = torch.log(torch.zeros(len(chosen)).index_add_(0, seg, torch.exp(s - top[seg]))) + top
                local = pos_of[chosen] - starts[chosen] + np.concatenate([[0], np.cumsum(groups[chosen])[:-1]])
                loss = (lse - s[torch.from_numpy(local)]).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.net_ = net
        return self

    def predict(self, X):
        import torch

        with torch.no_grad():
            return self.net_(torch.from_numpy(self._inputs(X.astype(np.float64)))).squeeze(1).numpy().astype(np.float64)

    def state(self):
        params = {f"w{k}": v.detach().numpy() for k, v in enumerate(self.net_.parameters())}
        return {"mean": self.mean_, "std": self.std_, **params}

    def restore(self, state):
        import torch

        self.mean_, self.std_ = np.asarray(state["mean"]), np.asarray(state["std"])
        self.net_ = self._net(2 * len(self.mean_))
        with torch.no_grad():
            for k, p in enumerate(self.net_.parameters()):
                p.copy_(torch.from_numpy(np.asarray(state[f"w{k}"])))
        return self


FUSIONS: dict[str, type[Fusion]] = {cls.name: cls for cls in (WeightedFusion, LambdaRankFusion, MLPFusion)}


def fusion_state_json(fusion: Fusion) -> tuple[dict, dict]:
    """(JSON scalars, numpy arrays) of a fitted fusion, for ``Recommender.save``."""
    scalars, arrays = {"name": fusion.name, "columns": fusion.columns, "seed": fusion.seed}, {}
    for k, v in fusion.state().items():
        if isinstance(v, np.ndarray):
            arrays[f"fusion.{k}"] = v
        else:
            scalars[k] = v
    return scalars, arrays


def restore_fusion(scalars: dict, arrays: dict) -> Fusion:
    fusion = FUSIONS[scalars["name"]](scalars["columns"], seed=scalars["seed"])
    state = {k: v for k, v in scalars.items() if k not in ("name", "columns", "seed")}
    state.update({k.removeprefix("fusion."): v for k, v in arrays.items() if k.startswith("fusion.")})
    return fusion.restore(state)


