"""A/B tests and interleaving: POST /experiments, GET /experiments, GET /experiments/{id} (with
per-variant statistics), POST /experiments/{id}/stop. Starting and stopping need ``admin``
(they change what every shopper is served); reading needs ``read``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from shelfwise.api.deps import Admin, EngineDep, Read
from shelfwise.experiments.service import ExperimentConflict, summary

router = APIRouter(tags=["experiments"])
ExperimentPath = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    share: float | None = Field(default=None, gt=0, le=1, description="of the experiment's shoppers (A/B); "
                                                                      "default: equal shares")
    options: dict[str, Any] = Field(default_factory=dict, max_length=5, description=(
        "list options the variant serves with: model, diversity, explore, rules, exclude_types"))


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    kind: Literal["ab", "interleave"] = "ab"
    variants: list[VariantIn] = Field(min_length=2, max_length=10, description="the first is the control")
    traffic: float = Field(default=1.0, gt=0, le=1, description="share of all shoppers in the experiment")
    pre_days: float = Field(default=14.0, ge=0, le=365, description="CUPED's pre-period before the start, days")


def _call(call):
    try:
        return call()
    except ExperimentConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except ValueError as exc:  # a bad variant or option: the message names the field
        raise HTTPException(422, str(exc).splitlines()[0]) from exc


@router.post("/experiments", status_code=201, dependencies=[Admin], summary="Start an experiment")
def create(body: ExperimentIn, engine: EngineDep) -> dict[str, Any]:
    """Shoppers are assigned by HMAC-SHA256 of the experiment's salt and their id: ``ab`` splits
    them into the variants by share, ``interleave`` merges both variants' lists on every request
    (team draft). Lists served in it name the experiment and variant in the response and the
    impression log. 409 while another experiment runs."""
    variants = [v.model_dump(exclude_none=True) for v in body.variants]
    return _call(lambda: engine.experiments.create(body.name, variants, body.kind, body.traffic, body.pre_days))


@router.get("/experiments", dependencies=[Read], summary="Experiments, oldest first")
def list_experiments(engine: EngineDep) -> list[dict[str, Any]]:
    return [summary(e) for e in engine.experiments.all()]


@router.get("/experiments/{experiment_id}", dependencies=[Read], summary="An experiment's per-variant statistics")
def status(experiment_id: ExperimentPath, engine: EngineDep,
           confidence: Annotated[float, Query(gt=0.5, lt=1)] = 0.95) -> dict[str, Any]:
    """A/B: per variant its shoppers, CTR, conversion rate and revenue per shopper with
    confidence intervals (conversion and revenue also CUPED-adjusted), each variant against
    the first with an anytime-valid test, and the sample-ratio-mismatch check. Interleaving:
    wins, losses and ties of the first variant with the sign test."""
    return _call(lambda: engine.experiments.status(experiment_id, confidence))


@router.post("/experiments/{experiment_id}/stop", dependencies=[Admin], summary="Stop an experiment")
def stop(experiment_id: ExperimentPath, engine: EngineDep) -> dict[str, Any]:
    """Every shopper is served the shop's settings again; the statistics stay readable. 409
    when it is stopped already."""
    return _call(lambda: engine.experiments.stop(experiment_id))
