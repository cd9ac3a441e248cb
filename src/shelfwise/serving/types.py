"""What the serving path takes and gives: a list request, a shopper's live events, the
served list with its recommendation id, and one recommended item."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shelfwise.data.rules import RuleSet


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    score: float
    model: str  # the model that placed the item ("popular" for fallback places)
    reason: str | None = None  # why it is here, in words
    source: str = "ranked"  # ranked, fallback, promoted, pinned or explore
    sources: dict[str, int] = field(default_factory=dict)  # hybrid: retriever -> rank there
    propensity: float | None = None  # explore slot: probability the bandit showed it
    team: str | None = None  # interleaving: the variant whose list placed the item


@dataclass
class Context:
    """Where an anonymous or new shopper is: used to pick popular items in context."""

    category: str | None = None  # a category page: "Beauty > Skin care"
    query: str | None = None  # a search query: items whose text holds every word


@dataclass
class ListRequest:
    """What shapes one list. ``None`` takes the shop's setting."""

    n: int = 10
    model: str | None = None  # default: settings.default_model
    exclude_seen: bool = True  # False: nothing the shopper touched is excluded
    exclude_types: list[str] | None = None  # default: settings.exclude_types
    rules: RuleSet | None = None  # over the shop's settings.rules
    shop_rules: RuleSet | None = None  # in place of the shop's rules (a preview of rules not saved)
    diversity: float | None = None  # MMR lambda; default settings.diversity
    explore: bool | None = None  # the exploration slot; default settings.explore
    context: Context | None = None  # a new shopper's page or query
    log: bool = True  # write the list to the impression log (False: previews, explain)
    reasons: bool = True  # word each item's reason (False: batch jobs that write items only)
    # (experiment id, variant) the list is served under: set by the serving path
    # (``serving.variants``), never by a caller, and written to the impression log
    experiment: tuple[str, str] | None = None


@dataclass
class Live:
    """A shopper's events mapped onto a trained view, oldest first."""

    items: np.ndarray  # (E,) int64 item indices
    types: list[str]  # (E,) behaviour names
    times: np.ndarray  # (E,) float64 Unix seconds
    user_index: int | None  # row in the trained view, None = new to it
    touched_unknown: set[str] = field(default_factory=set)  # item ids the view does not know
    personal: bool = True  # False: the shopper withholds consent, so nothing of theirs is used

    @property
    def empty(self) -> bool:
        return len(self.items) == 0

    @classmethod
    def from_ids(cls, view, item_ids, types, times, user_index: int | None = None) -> Live:
        """Events given by item id (None or unknown ids are set aside in ``touched_unknown``)."""
        index = view.item_index
        idx = np.array([index.get(i, -1) if i is not None else -1 for i in item_ids], dtype=np.int64)
        keep = idx >= 0
        return cls(items=idx[keep], types=[t for t, k in zip(types, keep, strict=True) if k],
                   times=np.asarray(times, dtype=np.float64)[keep], user_index=user_index,
                   touched_unknown={i for i, k in zip(item_ids, keep, strict=True) if not k and i})


@dataclass(frozen=True)
class ServedList:
    """One answered list: ``items`` in order, under ``recommendation_id`` (the key events
    carry in their context to say they followed it)."""

    recommendation_id: str
    model: str  # the model asked for
    version: str | None  # the version of that model that served (None: nothing trained served)
    items: list[Recommendation]
    fallback: str | None = None  # why the whole list is the fallback, when it is
    policy: str = "ranked"  # "ranked", or "ranked+thompson-category" with an exploration slot
    # whether the shopper's own events shaped the list: False for popular and similar-item
    # lists, a shopper with nothing to go on, and one who withholds personalisation consent
    personalised: bool = True
    experiment: str | None = None  # the experiment the list was served in (``serving.variants``)
    variant: str | None = None  # its variant (A/B; an interleaved list's items name their team)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k):
        return self.items[k]
