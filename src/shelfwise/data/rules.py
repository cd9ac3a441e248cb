"""The shop's business rules as typed settings (``RuleSet``): what a shop or a request asks of
a list. They are applied by ``shelfwise.ranking.rules``; the schema lives here, beside the
other input schemas, so the settings can carry it without importing the ranking layer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ItemFilter(BaseModel):
    """Items that satisfy every given criterion (an empty criterion matches everything)."""

    model_config = ConfigDict(extra="forbid")

    categories: list[str] = Field(default_factory=list, description="path prefixes from the root")
    brands: list[str] = Field(default_factory=list)
    item_ids: list[str] = Field(default_factory=list)
    min_price: float | None = Field(default=None, ge=0)
    max_price: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _price_order(self):
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise ValueError(f"min_price ({self.min_price}) is above max_price ({self.max_price})")
        return self


class Promotion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: ItemFilter
    share: float = Field(gt=0, le=1, description="share of the n slots for promoted items")


class Pin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1)
    position: int = Field(ge=1, description="1-based slot")


class RuleSet(BaseModel):
    """The business rules of one request (shop defaults overlaid by the request's own)."""

    model_config = ConfigDict(extra="forbid")

    hidden_items: list[str] = Field(default_factory=list)
    include_categories: list[str] = Field(default_factory=list)
    exclude_categories: list[str] = Field(default_factory=list)
    min_price: float | None = Field(default=None, ge=0)
    max_price: float | None = Field(default=None, ge=0)
    max_per_brand: int | None = Field(default=None, ge=1)
    promotion: Promotion | None = None
    pinned: list[Pin] = Field(default_factory=list)
    segments: dict[int, RuleSet] = Field(
        default_factory=dict, description="rules added for the shoppers of a segment (its id from GET /segments), "
                                          "over the rest as a request's are")

    @model_validator(mode="after")
    def _consistent(self):
        if any(rules.segments for rules in self.segments.values()):
            raise ValueError("segments: a segment's rules cannot hold segments of their own")
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise ValueError(f"min_price ({self.min_price}) is above max_price ({self.max_price})")
        positions = [p.position for p in self.pinned]
        if len(set(positions)) != len(positions):
            raise ValueError(f"pinned positions must be distinct. Got {positions} instead.")
        ids = [p.item_id for p in self.pinned]
        if len(set(ids)) != len(ids):
            raise ValueError(f"pinned items must be distinct. Got {ids} instead.")
        return self
