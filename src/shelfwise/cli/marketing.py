"""Shopper portraits, segments and campaigns: ``shelfwise profile``, ``shelfwise segments``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from shelfwise.cli.common import Config, Home, StoreUrl, _engine, command, console
from shelfwise.privacy.pseudonyms import for_export


@command()
def profile(user_id: Annotated[str, typer.Argument(help="The shopper's id.")] = "",
            rebuild: Annotated[bool, typer.Option(help="Recompute every portrait from the event log first "
                                                       "(a store imported before portraits existed).")] = False,
            home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """A shopper's portrait: affinities, price band, RFM, activity, life-cycle stage, habits."""
    engine = _engine(home, store_url, config)
    if rebuild:
        console.print(f"rebuilt the portraits of {engine.portraits.rebuild()} shoppers")
    if user_id:
        console.print_json(json.dumps(engine.profile(user_id)))
    elif not rebuild:
        raise ValueError("name a shopper (shelfwise profile USER) or pass --rebuild")


@command()
def segments(fit: Annotated[bool, typer.Option("--fit", help="Segment the shoppers' portraits now "
                                                           "(K-means, k by the seed's Davies-Bouldin index).")] = False,
             k_min: Annotated[int, typer.Option(min=2, max=50, help="Smallest k tried.")] = 2,
             k_max: Annotated[int, typer.Option(min=2, max=50, help="Largest k tried.")] = 10,
             threshold: Annotated[float, typer.Option(min=0.01, max=1.0, help="|r| above which two "
                                                      "features are merged (formula 3).")] = 0.8,
             seed: Annotated[int, typer.Option(min=0, help="K-means seed.")] = 0,
             home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """The shop's segments: sizes, names and the indices k was chosen by (``--fit`` computes them)."""
    engine = _engine(home, store_url, config)
    if fit:
        if k_min > k_max:
            raise ValueError(f"--k-min ({k_min}) must not exceed --k-max ({k_max})")
        seg = engine.segment(k_range=(k_min, k_max), threshold=threshold, seed=seed)
        console.print(f"report: {engine.portraits.segments_dir}")
    else:
        seg = engine.segments()
        if seg is None:
            raise ValueError("the shop has no segments yet: run shelfwise segments --fit")
    for line in seg.prep["report"]:
        console.print(line)
    console.print(f"{'k':>3} {'seed DB':>9} {'sklearn DB':>11} {'silhouette':>11}")
    for c in seg.candidates:
        mark = "  <- chosen" if c["k"] == seg.k else ""
        console.print(f"{c['k']:>3} {c['seed_db']:>9.4f} {c['sklearn_db']:>11.4f} {c['silhouette']:>11.4f}{mark}")
    for s in seg.segments:
        console.print(f"segment {s['id']}: {s['size']} shoppers ({s['share']:.1%}): {s['name']}")


@command()
def propensity(category: Annotated[str, typer.Argument(help="A category, or a path 'Beauty > Hair'.")],
               days: Annotated[float, typer.Option(min=1, max=365, help="The window: buys within N days.")] = 30,
               seed: Annotated[int, typer.Option(min=0)] = 0,
               out: Annotated[Path | None, typer.Option(help="Write every shopper's propensity now "
                                                            "(user_id,propensity) to this CSV.")] = None,
               home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Fit the purchase-propensity model for a category and print its temporal hold-out check."""
    engine = _engine(home, store_url, config)
    model = engine.marketing.fit_propensity(category, days, seed)
    r = model.report
    console.print(f"{category!r} within {days:g} days: trained on {r['train_shoppers']} shoppers "
                  f"(rate {r['train_rate']:.4f}), checked on the next window's {r['holdout_shoppers']} "
                  f"(rate {r['holdout_rate']:.4f})")
    console.print(f"AUC {r['auc']:.4f}  log loss {r['log_loss']:.4f} (base rate {r['base_log_loss']:.4f})  "
                  f"Brier {r['brier']:.4f} (base rate {r['base_brier']:.4f})")
    if out is not None:
        for_export(engine.marketing.propensity_scores(category, days).rename_axis("user_id"),
                   engine.settings).to_csv(out)
        console.print(f"wrote {out}")


@command()
def audience(item: Annotated[list[str] | None, typer.Option("--item", help="Item id (repeatable).")] = None,
             brand: Annotated[str | None, typer.Option(help="A brand.")] = None,
             category: Annotated[str | None, typer.Option(help="A category or a path 'Home > Decor'.")] = None,
             n: Annotated[int, typer.Option("--n", "-n", min=1, max=10_000_000)] = 100,
             model: Annotated[str | None, typer.Option("--model", "-m", help="Serving model to rank by.")] = None,
             include_buyers: Annotated[bool, typer.Option(help="Keep shoppers who already bought the target.")] = False,
             by_affinity: Annotated[bool, typer.Option(help="Rank by the model's score alone, not times "
                                                            "recent activity.")] = False,
             out: Annotated[Path | None, typer.Option(help="Write user_id,score,rank to this CSV.")] = None,
             home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """The shoppers most likely to engage with items, a brand or a category, ranked."""
    engine = _engine(home, store_url, config)
    frame = engine.marketing.audience(
        items=item, brand=brand, category=category, n=n, model=model, exclude_purchased=not include_buyers,
        rank_by="affinity" if by_affinity else "engagement")
    if out is not None:
        for_export(frame, engine.settings).to_csv(out, index=False)
        console.print(f"wrote {len(frame)} shoppers to {out}")
        return
    for row in frame.itertuples(index=False):
        console.print(f"{row.rank:5d}. {row.user_id}  {row.score:.4f}")


@command()
def campaign(campaign_id: Annotated[str, typer.Argument(help="A campaign id; 'new' plans one.")],
             name: Annotated[str | None, typer.Option(help="New campaign: its name.")] = None,
             segment: Annotated[int | None, typer.Option(min=0, help="New campaign: a segment's shoppers.")] = None,
             category: Annotated[str | None, typer.Option(
                 help="New campaign: the category's affinity audience.")] = None,
             item: Annotated[list[str] | None, typer.Option("--item", help="New campaign: items' audience.")] = None,
             budget: Annotated[int, typer.Option(min=2, help="New campaign: shoppers, control included.")] = 1000,
             control_share: Annotated[float, typer.Option(min=0.01, max=0.99)] = 0.2,
             days: Annotated[float | None, typer.Option(min=0.01, help="Conversions counted this long.")] = None,
             csv: Annotated[Path | None, typer.Option(help="Write the treatment arm (user_id,arm,rank) here.")] = None,
             home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Plan a campaign (``new``) or show one's incremental conversions and revenue against its control."""
    engine = _engine(home, store_url, config)
    marketing = engine.marketing
    if campaign_id == "new":
        audience = {k: v for k, v in (("segment", segment), ("category", category), ("items", item)) if v is not None}
        made = marketing.create_campaign(name or "campaign", audience, budget, control_share, days)
        campaign_id = made["campaign_id"]
        console.print(f"campaign {campaign_id}: {made['treatment']} treated, {made['control']} in the control")
    else:
        r = marketing.campaign(campaign_id)
        for arm, a in r["arms"].items():
            console.print(f"{arm:>9}: {a['shoppers']} shoppers, {a['converters']} converted ({a['rate']:.2%}), "
                          f"revenue {a['revenue']:.2f}")
        if "lift" in r:
            lo, hi = r["incremental_conversions_ci"]
            console.print(f"incremental conversions {r['incremental_conversions']:.1f} "
                          f"({r['confidence']:.0%} CI {lo:.1f} to {hi:.1f}); lift {r['lift']:+.4f}")
    if csv is not None:
        for_export(marketing.campaign_members(campaign_id), engine.settings).to_csv(csv, index=False)
        console.print(f"wrote {csv}")
