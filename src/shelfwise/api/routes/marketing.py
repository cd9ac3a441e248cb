"""Shopper portraits, segments, audiences and campaigns: GET /users/{id}/profile, GET /segments,
GET /audiences, POST /campaigns, GET /campaigns/{id}."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from shelfwise.api.deps import EngineDep, Read, Write
from shelfwise.errors import NoData
from shelfwise.privacy.pseudonyms import for_export

router = APIRouter(tags=["marketing"])
IdPath = Annotated[str, Path(min_length=1, max_length=255)]
CampaignPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]


@router.get("/users/{user_id}/profile", dependencies=[Read], summary="A shopper's portrait")
def profile(user_id: IdPath, engine: EngineDep) -> dict[str, Any]:
    """Category and brand affinities, price band and sensitivity, RFM, activity and life-cycle
    stage, preferred hours and days, the predicted next category (and the segment, once the
    shop is segmented), as of the newest event in the store. 404 for a shopper without
    events or without consent."""
    return engine.profile(user_id)


@router.get("/segments", dependencies=[Read], summary="The shop's shopper segments")
def segments(engine: EngineDep) -> dict[str, Any]:
    """k and the indices it was chosen by (the seed's Davies-Bouldin index, scikit-learn's,
    the silhouette, per k tried), the feature preparation's report, and per segment its name,
    size, share and mean portrait features. 409 before the shop is segmented (``shelfwise
    segments --fit``: segmenting is a batch job, never done on a request)."""
    seg = engine.segments()
    if seg is None:
        raise NoData("the shop has no segments yet: run shelfwise segments --fit")
    return {"k": seg.k, "n_shoppers": seg.n_shoppers, "as_of": seg.as_of, "created_at": seg.created_at,
            "candidates": seg.candidates, "preparation": seg.prep["report"], "features": seg.prep["columns"],
            "segments": [{**s, "centroid": dict(zip(seg.prep["columns"], seg.centroids[s["id"]], strict=True))}
                         for s in seg.segments]}


@router.get("/audiences", dependencies=[Read], summary="The shoppers most likely to engage with a target",
            responses={200: {"content": {"text/csv": {}}}})
def audiences(engine: EngineDep,
              item: Annotated[list[str] | None, Query(max_length=500, description="item id(s); repeatable")] = None,
              brand: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
              category: Annotated[str | None, Query(min_length=1, max_length=1000,
                                                    description="a category or a path 'Home > Decor'")] = None,
              n: Annotated[int, Query(ge=1, le=100_000)] = 100,
              model: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
              exclude_purchased: bool = True,
              rank_by: Annotated[Literal["engagement", "affinity"], Query(
                  description="engagement: affinity times recent activity; affinity: the model's score"
              )] = "engagement",
              format: Annotated[Literal["json", "csv"], Query()] = "json"):
    """Exactly one target: one or more items (up to 500), a brand or a category. Shoppers are
    ranked by the serving model's scores of the target's items (summed), times their recent
    activity unless ``rank_by=affinity``; those who already bought one are left out unless
    ``exclude_purchased=false``; ``format=csv`` answers
    ``user_id,score,rank`` rows for export."""
    try:
        frame = engine.marketing.audience(items=item, brand=brand, category=category, n=n, model=model,
                                          exclude_purchased=exclude_purchased, rank_by=rank_by)
    except ValueError as exc:  # a target that is not one, or too wide: the message names the field
        raise HTTPException(422, str(exc).splitlines()[0]) from exc
    if format == "csv":
        return Response(for_export(frame, engine.settings).to_csv(index=False), media_type="text/csv")
    target = {"items": item} if item else {"brand": brand} if brand else {"category": category}
    return {"target": target, "model": model or engine.settings.default_model, "n": len(frame),
            "shoppers": frame.to_dict("records")}


class PropensityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(min_length=1, max_length=1000)
    days: float = Field(default=30.0, gt=0, le=365)


class AudienceIn(BaseModel):
    """Exactly one of: a segment, items, a brand, a category, a propensity model's top, a rule."""

    model_config = ConfigDict(extra="forbid")
    segment: int | None = Field(default=None, ge=0)
    items: list[str] | None = Field(default=None, min_length=1, max_length=500)
    brand: str | None = Field(default=None, min_length=1, max_length=255)
    category: str | None = Field(default=None, min_length=1, max_length=1000)
    propensity: PropensityIn | None = None
    rule: list[tuple[str, Literal["<", "<=", ">", ">=", "=="], float]] | None = Field(
        default=None, min_length=1, max_length=20, description='portrait features, e.g. [["recency_days", ">", 30]]')
    model: str | None = Field(default=None, min_length=1, max_length=64, description="for items, brand, category")


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    audience: AudienceIn
    budget: int = Field(ge=2, le=10_000_000, description="shoppers in the campaign, control included")
    control_share: float = Field(default=0.2, gt=0, lt=1, description="random share held out as the control")
    days: float | None = Field(default=None, gt=0, le=3650, description="conversions counted this long; None: open")
    seed: int = Field(default=0, ge=0)
    start: float | None = Field(default=None, description="Unix time it starts; default now")


def _campaign_call(call):
    try:
        return call()
    except ValueError as exc:  # a bad audience or budget: the message names the field
        raise HTTPException(422, str(exc).splitlines()[0]) from exc


@router.post("/campaigns", status_code=201, dependencies=[Write], summary="Plan a campaign with a random control")
def create_campaign(body: CampaignIn, engine: EngineDep) -> dict[str, Any]:
    """Takes the audience's first ``budget`` shoppers and holds out a random ``control_share`` of
    them; the treatment arm is the list to send the offer to (``/campaigns/{id}/audience.csv``)."""
    audience = body.audience.model_dump(exclude_none=True)
    if "rule" in audience:
        audience["rule"] = [list(c) for c in audience["rule"]]
    return _campaign_call(lambda: engine.marketing.create_campaign(
        body.name, audience, body.budget, body.control_share, body.days, body.seed, body.start))


@router.get("/campaigns", dependencies=[Read], summary="Campaigns, oldest first")
def list_campaigns(engine: EngineDep) -> list[dict[str, Any]]:
    return engine.store.list_campaigns()


@router.get("/campaigns/{campaign_id}", dependencies=[Read], summary="A campaign's incremental conversions")
def campaign(campaign_id: CampaignPath, engine: EngineDep,
             confidence: Annotated[float, Query(gt=0.5, lt=1)] = 0.95) -> dict[str, Any]:
    """Conversions and revenue of the treatment and control arms since the start, the lift
    and the incremental conversions and revenue, each with its confidence interval."""
    return engine.marketing.campaign(campaign_id, confidence)


@router.get("/campaigns/{campaign_id}/audience.csv", dependencies=[Read], summary="A campaign's members as CSV",
            responses={200: {"content": {"text/csv": {}}}})
def campaign_audience(campaign_id: CampaignPath, engine: EngineDep,
                      arm: Annotated[Literal["treatment", "control", "all"], Query()] = "treatment") -> Response:
    members = engine.marketing.campaign_members(campaign_id, None if arm == "all" else arm)
    return Response(for_export(members, engine.settings).to_csv(index=False), media_type="text/csv")
