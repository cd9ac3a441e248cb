import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pandas as pd
from typer.testing import CliRunner

from shelfwise.cli.demo import DEMO_MODELS
from shelfwise.cli.main import app
from shelfwise.config import Settings
from shelfwise.store import open_store

runner = CliRunner()


def _csv(path, rows, header="user_id,item_id,event_type,timestamp"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_malformed_file_fails_with_line_numbers_and_writes_nothing(tmp_path):
    f = _csv(tmp_path / "bad.csv", ["u1,i1,view,1", "u2,,view,2", "u3,i3,teleport,3",
                                    "u4,i4,view,later"])
    res = runner.invoke(app, ["import", str(f), "--home", str(tmp_path)])
    assert res.exit_code == 2
    for expected in ("line 3: item_id", "line 4: event_type", "line 5: timestamp"):
        assert expected in res.output
    assert open_store(f"sqlite:///{tmp_path / 'events.db'}").count_events() == 0


def test_skip_mode_imports_good_rows_and_import_is_idempotent(tmp_path):
    f = _csv(tmp_path / "mixed.csv", ["u1,i1,view,1", "u2,,view,2", "u3,i3,cart,3"])
    args = ["import", str(f), "--home", str(tmp_path), "--on-error", "skip"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "added 2" in first.output and "line 3: item_id" in first.output
    second = runner.invoke(app, args)
    assert "added 0" in second.output and "already stored 2" in second.output


def test_import_with_column_mapping(tmp_path):
    f = _csv(tmp_path / "m.csv", ["c1,s1,buy,2024-05-01T12:00:00Z"], header="customer,sku,kind,when")
    res = runner.invoke(app, ["import", str(f), "--home", str(tmp_path), "--map", "customer=user_id",
                              "--map", "sku=item_id", "--map", "kind=event_type", "--map", "when=timestamp"])
    assert res.exit_code == 0, res.output
    snap = open_store(f"sqlite:///{tmp_path / 'events.db'}").snapshot()
    assert snap[["user_id", "item_id", "event_type"]].values.tolist() == [["c1", "s1", "purchase"]]


def test_a_killed_import_leaves_a_consistent_store_and_a_rerun_completes(tmp_path, small_shop):
    events = small_shop.events[["user_id", "item_id", "event_type", "timestamp"]]
    path = tmp_path / "big.csv"
    events.to_csv(path, index=False)
    script = textwrap.dedent(f"""
        import os, signal
        from shelfwise.config import Settings
        from shelfwise.engine import Engine
        eng = Engine(Settings(home={str(tmp_path)!r}, import_chunk_rows=1000))
        def crash(stage, done, total):
            if done >= 3000:
                os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, like a power cut
        eng.import_file({str(path)!r}, progress=crash)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    db = tmp_path / "events.db"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 3000  # whole chunks only
    con.close()
    res = runner.invoke(app, ["import", str(path), "--home", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert f"added {len(events) - 3000}" in res.output
    assert open_store(f"sqlite:///{db}").count_events() == len(events)


def test_train_recommend_similar_forget(tmp_path, small_shop):
    path = tmp_path / "shop.csv"
    small_shop.events.drop(columns=["event_id", "context"]).to_csv(path, index=False)
    home = ["--home", str(tmp_path)]
    assert runner.invoke(app, ["import", str(path), *home]).exit_code == 0
    assert runner.invoke(app, ["train", "-m", "itemknn", *home]).exit_code == 0
    user = str(small_shop.user_ids[0])
    rec = runner.invoke(app, ["recommend", user, "--n", "3", *home])
    assert rec.exit_code == 0 and rec.output.count("(itemknn)") == 3
    sim = runner.invoke(app, ["similar", str(small_shop.item_ids[0]), "--n", "2", *home])
    assert sim.exit_code == 0 and sim.output.count("P0") == 2
    gone = runner.invoke(app, ["forget-user", user, *home])
    assert "deleted" in gone.output and "profile" in gone.output
    assert "subtracted exactly: itemknn, popular;" in " ".join(gone.output.split())
    assert "(popular)" in runner.invoke(app, ["recommend", user, "--n", "1", *home]).output


def test_recommend_batch_with_arbitrary_string_ids(tmp_path):
    rows = ["alice,sku-1,view,1", "alice,sku-2,purchase,2", "bob,sku-1,view,1",
            "bob,sku-3,cart,2", "carol,sku-2,view,3", "carol,sku-3,view,4"]
    events = _csv(tmp_path / "train.csv", rows)
    users = tmp_path / "users.txt"
    users.write_text("alice\nnewcomer\n")
    out = tmp_path / "recs.csv"
    res = runner.invoke(app, ["recommend-batch", "--events", str(events), "--users", str(users),
                              "--model", "itemknn", "--k", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    recs = pd.read_csv(out, dtype=str)
    alice = recs[recs.user_id == "alice"]
    assert alice["item_id"].tolist() == ["sku-3"]  # the only item alice has not seen
    assert recs[recs.user_id == "newcomer"]["rank"].tolist() == ["1", "2"]  # popular fallback
    bad = runner.invoke(app, ["recommend-batch", "--events", str(events), "--users", str(users),
                              "--model", "itemknn", "--out", str(out), "--params", '{"k": -1}'])
    assert bad.exit_code == 2 and "The 'k' parameter of ItemKNN" in bad.output


def test_demo_command_prints_the_table(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("SHELFWISE_")]:
        monkeypatch.delenv(name)
    home = tmp_path / "d"
    # a process of its own: the demo sets one thread per OpenMP / BLAS pool for its process
    res = subprocess.run([sys.executable, "-m", "shelfwise.cli", "demo", "--home", str(home),
                          "--users", "300", "--items", "200", "--no-serve", "--seq-minutes", "0.05"],
                         env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "NDCG@10" in out and "itemknn" in out
    assert "popular, itemknn, rules, ease, hybrid refitted and scored on one split" in out
    # the hybrid's list beside the single models', each hybrid item with its reason
    assert "the hybrid (MMR lambda 0.7) beside single models" in out
    assert "distinct categories in the top 6" in out
    assert (home / "report" / "f1_by_k.png").exists()
    # its shelfwise.toml reads back as what it trained (and so what it serves and retrains)
    settings = Settings(home=home)
    trained = json.loads(next((home / "versions").glob("*/run.json")).read_text())["models"]
    assert settings.models == list(trained) == DEMO_MODELS
    assert settings.default_model == "hybrid"
    seq = {"max_minutes": 0.05}
    assert settings.model_params == {"sasrec": seq, "hybrid": {"retriever_params": {"sasrec": seq}}}
    assert {name: run["params"] for name, run in trained.items() if run["params"]} == settings.model_params


def test_recommend_batch_content_model_with_a_catalogue(tmp_path):
    events = _csv(tmp_path / "train.csv", ["ann,tea1,purchase,1", "ann,tea2,purchase,2",
                                           "ben,pan1,purchase,1"])
    items = tmp_path / "items.csv"
    items.write_text("item_id,title,category\ntea1,green tea,Grocery > Tea\n"
                     "tea2,black tea,Grocery > Tea\npan1,frying pan,Home > Kitchen\n"
                     "tea3,oolong tea,Grocery > Tea\npan2,steel pan,Home > Kitchen\n")
    users = tmp_path / "users.txt"
    users.write_text("ann\nben\n")
    out = tmp_path / "recs.csv"
    res = runner.invoke(app, ["recommend-batch", "--events", str(events), "--users", str(users),
                              "--model", "content", "--k", "1", "--items", str(items),
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    recs = pd.read_csv(out, dtype=str).set_index("user_id")["item_id"].to_dict()
    assert recs == {"ann": "tea3", "ben": "pan2"}  # catalogue-only items, by their text
    no_catalogue = runner.invoke(app, ["recommend-batch", "--events", str(events), "--users",
                                       str(users), "--model", "content", "--out", str(out)])
    assert no_catalogue.exit_code == 2 and "needs a catalogue" in no_catalogue.output


def test_config_shows_the_store_in_use_with_any_password_masked(tmp_path):
    env = {**{k: None for k in os.environ if k.startswith("SHELFWISE_")}, "COLUMNS": "200"}
    res = runner.invoke(app, ["config", "--home", str(tmp_path)], env=env)
    assert res.exit_code == 0, res.output
    value, origin = next(line for line in res.output.splitlines() if line.startswith("store_url")).split("#")
    assert value.strip() == f'store_url = "sqlite:///{tmp_path / "events.db"}"'
    assert origin.strip() == "default: SQLite in home"
    pg = runner.invoke(app, ["config", "--home", str(tmp_path), "--store-url",
                             "postgresql://shop:s3c@r/et@db.example/shop"], env=env)
    assert 'store_url = "postgresql://shop:***@db.example/shop"' in pg.output
    assert "s3c" not in pg.output and "et@" not in pg.output
