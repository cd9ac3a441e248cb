"""``shelfwise demo``: a synthetic shop generated, imported, trained, evaluated, one shopper's
lists shown side by side, then served. Registered on the app of ``shelfwise.cli.common``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from shelfwise.cli.common import _check_port, _fail, _progress, command, console, err
from shelfwise.config import CONFIG_NAME, Settings
from shelfwise.models import MODELS

DEMO_MODELS = ["popular", "itemknn", "userknn", "rules", "ease", "als", "content", "sasrec", "hybrid"]
#: what the demo evaluates, on one split: the hybrid beside the popularity baseline and three
#: single models that fit in seconds and score among the best on this shop. sasrec scores
#: with them, but refitting it would add its whole training budget to the wait.
EVALUATED = ["popular", "itemknn", "rules", "ease", "hybrid"]
DEMO_MARKER = ".shelfwise-demo"  # the demo deletes only a folder that holds this file


def demo_settings(models: list[str], seq_minutes: float) -> dict:
    """The demo home's settings, written to its shelfwise.toml before training:
    {"models": [name, ...], "default_model": name, "model_params": {name: {param: value}}}.
    Training, serving and a retrain (``POST /models/train {}``) all read them from there."""
    params = {"sasrec": {"max_minutes": seq_minutes},
              "hybrid": {"retriever_params": {"sasrec": {"max_minutes": seq_minutes}}}}
    return {"models": list(models),
            # the demo serves the whole pipeline when its extra is installed
            "default_model": "hybrid" if "hybrid" in models else "itemknn",
            "model_params": {name: p for name, p in params.items() if name in models}}


def _toml(table: dict, name: str = "") -> str:
    """``table`` as TOML text: its plain values under a ``[name]`` header, then each nested
    table (values: strings, numbers, booleans and lists of them)."""
    plain = {k: v for k, v in table.items() if not isinstance(v, dict)}
    text = ""
    if name and (plain or not table):  # a table of tables needs no header of its own
        text += f"\n[{name}]\n"
    text += "".join(f"{_key(k)} = {_value(v)}\n" for k, v in plain.items())
    for k, v in table.items():
        if isinstance(v, dict):
            text += _toml(v, f"{name}.{_key(k)}" if name else _key(k))
    return text


def _key(key: str) -> str:
    import re

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value)  # a JSON string or number is a TOML one


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


@command()
def demo(home: Annotated[Path, typer.Option(help="Folder for the demo shop.")] = Path(".shelfwise/demo"),
         users: Annotated[int, typer.Option(min=10, help="Shoppers in the synthetic shop.")] = 1500,
         items: Annotated[int, typer.Option(min=10, help="Items in its catalogue.")] = 800,
         seed: int = 7,
         serve: Annotated[bool, typer.Option("--serve/--no-serve",
                                             help="Serve the demo shop over HTTP at the end.")] = True,
         port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
         seq_minutes: Annotated[float, typer.Option(
             min=0.01, help="Training budget of each sequence model fit (the hybrid fits its own "
                            "twice, and twice more to be evaluated).")] = 0.25):
    """Generate a synthetic shop, import it, train the models and print an evaluation.

    The folder is rebuilt on each run; one the demo did not create is left alone. Its
    shelfwise.toml says what is trained and served, with the parameters used."""
    import shutil
    import time

    from shelfwise.data.synthetic import generate_shop
    from shelfwise.engine import Engine
    from shelfwise.evaluation.report import rich_table

    start = time.monotonic()
    _one_thread_per_library()
    if home.exists():
        if not home.is_dir() or (any(home.iterdir()) and not (home / DEMO_MARKER).exists()):
            _fail(f"{home} exists and was not made by the demo: pass an empty or new --home")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / DEMO_MARKER).write_text("made by `shelfwise demo`; the next demo run deletes this folder\n")
    config = home / CONFIG_NAME
    config.write_text("# Written by `shelfwise demo`: the models it trains and serves, with their "
                      "parameters;\n# `shelfwise train --home` and POST /models/train {} retrain "
                      "the same.\n" + _toml(demo_settings(_installed(DEMO_MODELS), seq_minutes)))
    # the demo's own store and settings file, whatever SHELFWISE_STORE_URL or _CONFIG say
    engine = Engine(Settings(home=home, store_url="", config=config))
    console.rule("shelfwise demo")
    shop = generate_shop(n_users=users, n_items=items, seed=seed)
    # the shop's history ends today (whole days later, so times of day stay), so what the
    # dashboard counts as this week and the events a user sends next follow on from it
    days = max(0, int((time.time() - shop.events["timestamp"].max()) // 86400))
    shop.events["timestamp"] += days * 86400.0
    console.print(f"synthetic shop: {len(shop.items)} items, {len(shop.users)} shoppers, "
                  f"{len(shop.events)} events")
    engine.store.upsert_items(shop.items)
    engine.store.upsert_users(shop.users)
    with _progress() as update:
        report = engine.ingest(shop.events, progress=update)
        engine.train(progress=update)  # settings.models with settings.model_params
    console.print(f"stored {report.added} events in {engine.settings.resolved_store_url}")
    models = engine.settings.models
    evaluated = [m for m in EVALUATED if m in models]
    report_dir = home / "report"
    with _progress() as update:
        frame = engine.evaluate(evaluated, report_dir=report_dir,
                                progress=_counted(update, "evaluate", evaluated))
        update("evaluate", len(evaluated), len(evaluated))
    left_out = [m for m in models if m not in evaluated]
    console.print(rich_table(frame, title=f"{', '.join(evaluated)} refitted and scored on one split of "
                                          "the synthetic shop (leave last new item out, full ranking)"
                                          + (f"; not evaluated: {', '.join(left_out)}" if left_out else "")))
    console.print(f"report with plots: {report_dir}")
    shopper = str(shop.user_ids[0])
    _show_lists(engine, shopper, [m for m in ("hybrid", "itemknn", "ease") if m in models])
    console.print(f"settings: {config}; ready in {time.monotonic() - start:.0f} s", highlight=False)
    if serve:
        serve_demo(engine, shopper, port)


def _one_thread_per_library() -> None:
    """Fit and score on one thread in each OpenMP and BLAS pool (PyTorch, LightGBM, implicit,
    scipy), unless OMP_NUM_THREADS says otherwise. On two cores shared with anything else,
    two threads per pool wait on each other: the demo hybrid's evaluation took 130-160 s
    with them and 20-25 s without (300 shoppers, load 4-5). The sequence models train to a
    time budget, so one thread costs them epochs, not time."""
    import os

    if "OMP_NUM_THREADS" in os.environ:
        return
    os.environ["OMP_NUM_THREADS"] = "1"  # read by each OpenMP runtime as it loads
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with the model extras; without them only scipy's BLAS has threads
        return
    threadpool_limits(limits=1)  # the pools loaded already (scipy's BLAS)


def _counted(update, stage: str, names: list[str]):
    """A per-model progress callback (called with each name as its turn starts) that moves
    ``stage``'s bar and says which model is running."""
    def step(name: str) -> None:
        err.print(f"evaluating {name}...", highlight=False)
        update(stage, names.index(name), len(names))
    return step


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
    """The end of ``shelfwise demo``: a demo admin key, the dashboard's address, a sample
    request, and the API with its dashboard until Ctrl-C."""
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
    _, key = KeyStore(engine.store.engine).create("demo", ["admin"])
    url = f"http://127.0.0.1:{port}"
    console.rule("serving the demo shop")
    console.print(f"API: {url}   docs: {url}/docs   (Ctrl-C to stop)", highlight=False)
    console.print(f"dashboard: {url}/dashboard/   (log in with the demo key)", highlight=False)
    console.print(f"demo key (admin: reads, writes, trains, forgets, manages keys): {key}", highlight=False)
    console.print(f'curl -s "{url}/users/{shopper}/recommendations?n=5" -H "Authorization: Bearer {key}"',
                  highlight=False, soft_wrap=True)
    uvicorn.run(create_app(engine=engine), host="127.0.0.1", port=port, log_level="warning")
