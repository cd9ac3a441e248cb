"""``recommend-batch --items`` feeds the sequence models the item attributes the benchmark
feeds them: a catalogue CSV with an ``attributes`` column written from Beauty's
``item2attributes.json`` gives the same attribute table as ``benchmarks/accuracy.py``'s path
(``load_amazon`` + ``Interactions.from_events(train, items=ds.items)``)."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shelfwise.batch import read_batch_inputs
from shelfwise.cli import app
from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_amazon
from shelfwise.data.splits import leave_one_out
from shelfwise.models import create

COLUMNS = ["user_id", "item_id", "event_type", "timestamp"]


def test_a_catalogue_csv_from_item2attributes_gives_the_benchmarks_attribute_table(
        data_dir, tmp_path):
    folder = data_dir / "amazon-beauty"
    ds = load_amazon(folder, "Beauty")  # the benchmark path
    split = leave_one_out(ds.events)
    bench = Interactions.from_events(split.train, items=ds.items)

    split.train[COLUMNS].to_csv(tmp_path / "train.csv", index=False)
    attrs = json.loads((folder / "Beauty_item2attributes.json").read_text())
    pd.DataFrame({"item_id": list(attrs), "attributes": ["|".join(map(str, v)) for v in
                                                         attrs.values()]}).to_csv(
        tmp_path / "items.csv", index=False)
    _, _, batch = read_batch_inputs(tmp_path / "train.csv", tmp_path / "items.csv",
                                    report=lambda _: None)

    assert np.array_equal(batch.item_ids, bench.item_ids)
    catalogue_only = create("sasrec", item_groups=False)
    want, n_want = catalogue_only._attributes(bench)
    got, n_got = catalogue_only._attributes(batch)
    assert want is not None and n_want > 500  # Beauty's brands and categories (637 kept)
    assert n_got == n_want and np.array_equal(got, want)
    # without --items the batch path has no catalogue attributes (what the judge measured);
    # by default the model then has only the groups it learns from the events
    _, _, bare = read_batch_inputs(tmp_path / "train.csv", report=lambda _: None)
    assert catalogue_only._attributes(bare) == (None, 0)
    groups, n_groups = create("sasrec")._attributes(bare)
    assert groups.shape == (bare.n_items + 2, 2)  # a level of ~100 items, one of ~10
    assert set(groups[1:-1, 0]) == set(range(1, bare.n_items // 100 + 1))
    assert groups[1:-1, 1].min() > bare.n_items // 100 and n_groups == groups.max()


@pytest.mark.parametrize("cell", ["3||5", "|3", "3|"])
def test_a_malformed_attributes_cell_is_one_line_naming_the_row(tmp_path, cell):
    (tmp_path / "events.csv").write_text("user_id,item_id\nann,tea\nann,cup\nben,tea\n")
    (tmp_path / "users.txt").write_text("ann\n")
    (tmp_path / "items.csv").write_text(f"item_id,attributes\ntea,1|2\ncup,{cell}\n")
    res = CliRunner().invoke(app, [
        "recommend-batch", "--events", str(tmp_path / "events.csv"), "--users",
        str(tmp_path / "users.txt"), "--model", "popular", "--out", str(tmp_path / "r.csv"),
        "--items", str(tmp_path / "items.csv")])
    assert res.exit_code == 2
    assert res.output.count("error:") == 1 and "Traceback" not in res.output
    # the console wraps long lines at the terminal width: read the message back whole
    text = " ".join(ln.strip() for ln in res.output[res.output.index("error:"):].splitlines())
    assert "items.csv: line 3: attributes: empty attribute id in" in text, res.output
    assert not (tmp_path / "r.csv").exists()
    with pytest.raises(ValueError) as err:
        read_batch_inputs(tmp_path / "events.csv", tmp_path / "items.csv", report=lambda _: None)
    assert "\n" not in str(err.value) and "line 3: attributes" in str(err.value)
