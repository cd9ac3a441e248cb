"""Shopper portraits, segments, audiences and campaigns: GET /users/{id}/profile, GET /segments,
GET /audiences."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response

from shelfwise.api.deps import EngineDep, Read
from shelfwise.errors import NoData

router = APIRouter(tags=["marketing"])
IdPath = Annotated[str, Path(min_length=1, max_length=255)]


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
              format: Annotated[Literal["json", "csv"], Query()] = "json"):
    """Exactly one target: one or more items (up to 500), a brand or a category. Shoppers are
    ranked by the serving model's scores of the target's items (summed), those who already
    bought one left out unless ``exclude_purchased=false``; ``format=csv`` answers
    ``user_id,score,rank`` rows for export."""
    try:
        frame = engine.marketing.audience(items=item, brand=brand, category=category, n=n, model=model,
                                          exclude_purchased=exclude_purchased)
    except ValueError as exc:  # a target that is not one, or too wide: the message names the field
        raise HTTPException(422, str(exc).splitlines()[0]) from exc
    if format == "csv":
        return Response(frame.to_csv(index=False), media_type="text/csv")
    target = {"items": item} if item else {"brand": brand} if brand else {"category": category}
    return {"target": target, "model": model or engine.settings.default_model, "n": len(frame),
            "shoppers": frame.to_dict("records")}
