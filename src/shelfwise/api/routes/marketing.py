"""Shopper portraits, segments, audiences and campaigns: GET /users/{id}/profile, GET /segments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

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
