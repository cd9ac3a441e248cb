"""``shelfwise demo``: a synthetic shop generated, imported, trained, evaluated, one shopper's
lists shown side by side, then served. Registered on the app of ``shelfwise.cli.common``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from shelfwise.cli.common import _check_port, _fail, _progress, command, console, err
from shelfwise.config import Settings
from shelfwise.models import MODELS

DEMO_MODELS = ["popular", "itemknn", "userknn", "rules", "ease", "als", "content", "sasrec", "hybrid"]


def _demo_params(seq_minutes: float) -> dict[str, dict]:
    """The demo keeps to a few minutes: its sequence models train ``seq_minutes`` each."""
    return {"sasrec": {"max_minutes": seq_minutes},
            "hybrid": {"retriever_params": {"sasrec": {"max_minutes": seq_minutes}}}}


def _installed(names: list[str]) -> list[str]:
    """The models whose extras are installed; says which are left out and why."""
    from shelfwise.errors import MissingExtra

    kept = []
    for name in names:
        try:
            MODELS[name].check_installed()
            kept.append(name)
        except MissingExtra as exc:
            err.print(f"skipping {name}: {escape(str(exc))}", highlight=False)
    return kept


DEMO_MARKER = ".shelfwise-demo"  # the demo deletes only a folder that holds this file


@command()
def demo(home: Annotated[Path, typer.Option(help="Folder for the demo shop.")] = Path(".shelfwise/demo"),
         users: Annotated[int, typer.Option(min=10)] = 3000,
         items: Annotated[int, typer.Option(min=10)] = 1500, seed: int = 7,
         serve: Annotated[bool, typer.Option("--serve/--no-serve",
                                             help="Serve the demo shop over HTTP at the end.")] = True,
         port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
         seq_minutes: Annotated[float, typer.Option(min=0.01, help="Training budget of each sequence "
                                                    "model fit (the hybrid fits its own twice).")] = 0.5):
    """Generate a synthetic shop, import it, train the models and print an evaluation.

    The folder is rebuilt on each run; one the demo did not create is left alone."""
    import shutil

    from shelfwise.data.synthetic import generate_shop
    from shelfwise.engine import Engine
    from shelfwise.evaluation.report import rich_table

    if home.exists():
        if not home.is_dir() or (any(home.iterdir()) and not (home / DEMO_MARKER).exists()):
            _fail(f"{home} exists and was not made by the demo: pass an empty or new --home")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / DEMO_MARKER).write_text("made by `shelfwise demo`; the next demo run deletes this folder\n")
    models = _installed(DEMO_MODELS)
    # the demo serves the whole pipeline when its extra is installed
    engine = Engine(Settings(home=home, store_url="", config=None,
                             default_model="hybrid" if "hybrid" in models else "itemknn"))
    console.rule("shelfwise demo")
    shop = generate_shop(n_users=users, n_items=items, seed=seed)
    console.print(f"synthetic shop: {len(shop.items)} items, {len(shop.users)} shoppers, "
                  f"{len(shop.events)} events")
    engine.store.upsert_items(shop.items)
    engine.store.upsert_users(shop.users)
    with _progress() as update:
        report = engine.ingest(shop.events, progress=update)
        engine.train(models, params=_demo_params(seq_minutes), progress=update)
    console.print(f"stored {report.added} events in {engine.settings.resolved_store_url}")
    report_dir = home / "report"
    frame = engine.evaluate(models, report_dir=report_dir, params=_demo_params(seq_minutes),
                            progress=lambda m: err.print(f"evaluating {m}..."))
    console.print(rich_table(frame, title="Models on the synthetic shop "
                                          "(leave last new item out, full ranking)"))
    console.print(f"report with plots: {report_dir}")
    shopper = str(shop.user_ids[0])
    _show_lists(engine, shopper, [m for m in ("hybrid", "itemknn", "ease") if m in models])
    if serve:
        serve_demo(engine, shopper, port)


def _show_lists(engine, shopper: str, models: list[str], n: int = 6) -> None:
    """One shopper's lists side by side: the hybrid (diverse, explained) and single models."""
    from rich.table import Table

    from shelfwise.ranking.catalogue import category_paths

    view = engine.versions.load(models[0])[1]
    path_of = dict(zip(view.item_ids, category_paths(view.items, view.n_items), strict=True))
    titles = dict(zip(view.item_ids, view.items["title"], strict=True)) if view.items is not None else {}
    item_ids, types, _ = engine.store.user_events(shopper)
    recent = ", ".join(f"{t} {titles.get(i, i)}" for i, t in list(zip(item_ids, types, strict=True))[-4:])
    console.rule(f"recommendations for {shopper}")
    console.print(f"latest events: {recent}")
    lists = {m: engine.recommend(shopper, n, m, diversity=0.7 if m == "hybrid" else 1.0) for m in models}
    table = Table(title=f"{shopper}: the hybrid (MMR lambda 0.7) beside single models", show_lines=True)
    table.add_column("#")
    for m in models:
        table.add_column(m)
    for k in range(n):
        cells = []
        for m in models:
            r = lists[m][k] if k < len(lists[m]) else None
            if r is None:
                cells.append("")
                continue
            text = f"{titles.get(r.item_id, r.item_id)}\n[dim]{' > '.join(path_of.get(r.item_id, ()))}[/dim]"
            if m == "hybrid" and r.reason:
                text += f"\n[green]{r.reason}[/green]"
            cells.append(text)
        table.add_row(str(k + 1), *cells)
    console.print(table)
    for m in models:
        cats = {path_of.get(r.item_id, ())[:2] for r in lists[m]}
        console.print(f"{m}: {len(cats)} distinct categories in the top {n}")


def serve_demo(engine, shopper: str, port: int) -> None:
    """The end of ``shelfwise demo``: a demo key, a sample request, and the API until Ctrl-C."""
    from shelfwise.api.keys import KeyStore
    from shelfwise.errors import MissingExtra

    try:
        import uvicorn

        from shelfwise.api.app import create_app
    except ImportError as exc:
        err.print(f"not serving: {MissingExtra('the HTTP API', 'serve', [exc.name or 'fastapi'])}",
                  highlight=False)
        return
    _check_port("127.0.0.1", port, hint="pass --port, or --no-serve")
    _, key = KeyStore(engine.store.engine).create("demo", ["read", "write"])
    url = f"http://127.0.0.1:{port}"
    console.rule("serving the demo shop")
    console.print(f"API: {url}   docs: {url}/docs   (Ctrl-C to stop)", highlight=False)
    console.print(f"demo key (read, write): {key}", highlight=False)
    console.print(f'curl -s "{url}/users/{shopper}/recommendations?n=5" -H "Authorization: Bearer {key}"',
                  highlight=False, soft_wrap=True)
    uvicorn.run(create_app(engine=engine), host="127.0.0.1", port=port, log_level="warning")
