"""Two training runs on one home at once (a scheduled run inside ``shelfwise serve`` and a
``shelfwise train``): each writes a whole version. Before runs took a lock, the second run
removed the first one's temporary folder as a dead run's leftover, and the first version was
saved without its training view (seen in benchmarks/scale.py at 8M events)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.data.synthetic import generate_shop
from shelfwise.models import create
from shelfwise.online.versions import ModelVersions

SECOND_RUN = textwrap.dedent("""
    import sys
    from shelfwise.data.interactions import Interactions
    from shelfwise.data.synthetic import generate_shop
    from shelfwise.models import create
    from shelfwise.online.versions import ModelVersions

    view = Interactions.from_events(generate_shop(n_users=50, n_items=40, seed=2).events)
    version = ModelVersions(sys.argv[1]).write(view, lambda save: save("popular", create("popular").fit(view), {}))
    print(version)
""")


def _view(seed: int) -> Interactions:
    return Interactions.from_events(generate_shop(n_users=60, n_items=50, seed=seed).events)


def test_a_run_in_progress_keeps_its_folder_while_another_process_writes(tmp_path):
    versions, view = ModelVersions(tmp_path), _view(1)
    second = {}

    def fit(save):
        save("popular", create("popular").fit(view), {})
        # another process writes a whole version while this one is half-way
        done = subprocess.run([sys.executable, "-c", SECOND_RUN, str(tmp_path)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        second["version"] = done.stdout.strip()
        save("itemknn", create("itemknn").fit(view), {})

    first = versions.write(view, fit)
    assert versions.list_versions() == sorted([first, second["version"]])
    versions.activate(first)
    model, loaded = versions.load("itemknn")
    np.testing.assert_array_equal(loaded.user_ids, view.user_ids)  # the first run's own view
    assert model.n_items_ == view.n_items
    assert ModelVersions(tmp_path).run(second["version"])["models"].keys() == {"popular"}
    assert not list((tmp_path / "versions").glob(".*"))  # no temporary folder or lock is left


def test_a_dead_runs_folder_is_removed_by_the_next_run(tmp_path):
    root = tmp_path / "versions"
    for name in ("locked-then-died", "died-before-locking"):
        (root / f".{name}.new" / "view").mkdir(parents=True)
    (root / ".locked-then-died.lock").touch()  # its lock exists but nobody holds it
    view = _view(1)
    version = ModelVersions(tmp_path).write(view, lambda save: save("popular", create("popular").fit(view), {}))
    assert sorted(p.name for p in root.iterdir()) == [version]
