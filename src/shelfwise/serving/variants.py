"""Experiments on the serving path: a shopper's list in the experiment running now.

A/B: the shopper's variant (``experiments.assignment``) sets list options the request leaves
to the shop's settings (model, diversity, exploration, rules, excluded behaviours), and the
list takes the one path as any other, logged with the experiment and variant. A request that
sets one of those options itself is served as asked, outside the experiment.

Interleaving: both variants' lists for the request, merged by team draft
(``experiments.interleaving``); every item is logged with the variant whose list placed it.
"""

from __future__ import annotations

import dataclasses
import uuid

from shelfwise.data.rules import RuleSet
from shelfwise.experiments.assignment import Experiment, Variant
from shelfwise.experiments.interleaving import team_draft
from shelfwise.serving.types import ListRequest, ServedList

INTERLEAVED = "interleaved"  # the policy an interleaved list is logged under


def variant_request(request: ListRequest, experiment: Experiment, variant: Variant) -> ListRequest | None:
    """``request`` with the variant's options, tagged with (experiment, variant); None when the
    request sets an option the variant sets."""
    options = variant.options
    if any(getattr(request, key) is not None for key in options):
        return None
    given = {k: (RuleSet.model_validate(v) if k == "rules" else v) for k, v in options.items()}
    return dataclasses.replace(request, **given, experiment=(experiment.experiment_id, variant.name))


def interleaved(pipeline, user_id: str, request: ListRequest, experiment: Experiment) -> ServedList | None:
    """The team-draft merge of the two variants' lists for this request, logged with each
    item's team; None when the request sets an option a variant sets."""
    va, vb = experiment.variants
    ra, rb = variant_request(request, experiment, va), variant_request(request, experiment, vb)
    if ra is None or rb is None:
        return None
    quiet = {"log": False, "explore": False, "experiment": None}
    a = pipeline.plain(user_id, dataclasses.replace(ra, **quiet))
    b = pipeline.plain(user_id, dataclasses.replace(rb, **quiet))
    by_id = {r.item_id: r for r in b.items} | {r.item_id: r for r in a.items}
    merged, teams = team_draft([r.item_id for r in a.items], [r.item_id for r in b.items], request.n,
                               pipeline.rng())
    names = (va.name, vb.name)
    items = [dataclasses.replace(by_id[i], team=names[t]) for i, t in zip(merged, teams, strict=True)]
    model = a.model if a.model == b.model else f"{a.model}|{b.model}"
    served = ServedList(uuid.uuid4().hex, model, a.version if a.version == b.version else None, items,
                        a.fallback if a.fallback and b.fallback else None, INTERLEAVED,
                        personalised=a.personalised or b.personalised, experiment=experiment.experiment_id)
    if request.log and pipeline.impressions is not None:
        # a shopper who withholds consent is logged as anonymous, as on the plain path
        pipeline.impressions.log(served, user_id if pipeline.source.consents(user_id) else "")
    return served


def placed(pipeline, user_id: str, request: ListRequest) -> tuple[Experiment, Variant] | None:
    """(the running experiment, the shopper's variant); None when none runs or the shopper is
    outside its traffic."""
    running = getattr(pipeline.source, "running_experiment", None)
    experiment = running() if running is not None and user_id and request.experiment is None else None
    variant = experiment.variant_of(user_id) if experiment is not None else None
    return None if variant is None else (experiment, variant)


def ab_request(pipeline, user_id: str, request: ListRequest) -> ListRequest:
    """``request`` as the shopper's A/B variant serves it, else as it is (``Explainer`` uses
    it, so an explanation is of the list the shopper is served)."""
    found = placed(pipeline, user_id, request)
    if found is None or found[0].kind != "ab":
        return request
    return variant_request(request, *found) or request


def in_experiment(pipeline, user_id: str, request: ListRequest) -> ServedList | None:
    """The shopper's list in the running experiment; None when there is none, the shopper is
    outside its traffic, or the request is served as asked."""
    found = placed(pipeline, user_id, request)
    if found is None:
        return None
    experiment, variant = found
    if experiment.kind == "interleave":
        return interleaved(pipeline, user_id, request, experiment)
    tagged = variant_request(request, experiment, variant)
    return None if tagged is None else pipeline.plain(user_id, tagged)
