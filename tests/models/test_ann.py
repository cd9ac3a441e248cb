"""Approximate retrieval (``shelfwise.models.ann``) against exact scoring, on ALS factors fitted
on the synthetic shop (3,000 items) with ``ann_threshold`` forced below the catalogue size.

The recall bounds are the figures measured at these settings minus a margin (see each test);
the 1M-item figures are benchmarks/ann.py's. ContentEmbedding runs the whole Recommender contract
through its index (tests/models/test_contract.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.data.synthetic import generate_shop
from shelfwise.models import Recommender, ann, create
from shelfwise.models.ann import MAX_FETCH
from shelfwise.models.factor import FactorRecommender
from shelfwise.ranking.candidates import retrieve
from shelfwise.ranking.exclusion import exclusion_mask

pytest.importorskip("faiss", reason="the 'ann' extra is not installed")

ALS = {"factors": 64, "iterations": 10}
USERS = np.arange(0, 2000, 4)  # 500 shoppers


def recall(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a_row & b_row| / row width (padding -1 never counts)."""
    return float(np.mean([len(set(x[x >= 0]) & set(y[y >= 0])) / a.shape[1] for x, y in zip(a, b, strict=True)]))


@pytest.fixture(scope="module")
def view():
    shop = generate_shop(n_users=2000, n_items=3000, seed=5)
    return Interactions.from_events(shop.events, items=shop.items)


@pytest.fixture(scope="module")
def exact(view):
    return create("als", **ALS).fit(view)  # 3,000 items: below the default threshold


@pytest.fixture(scope="module")
def approx(view):
    # every norm range gets a graph (a catalogue this small would otherwise be scanned flat), and
    # ef_search 16 (the default is 128; the search beam is raised to the k fetched): a narrow
    # search, so the recall bounds say something
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ann, "FLAT_BELOW", 0)
        mp.setattr(ann, "FLAT_SHARE", 0)
        model = create("als", **ALS, ann_threshold=1000, ann_ef_search=16).fit(view)
    assert "flat" not in model.ann_index_.describe()
    return model


def test_only_catalogues_past_the_threshold_get_an_index(exact, approx, view):
    assert exact.ann_index_ is None and approx.ann_index_ is not None
    assert approx.ann_index_.n_items == view.n_items
    # same seed, same factors: only the retrieval differs
    np.testing.assert_array_equal(exact.item_factors_, approx.item_factors_)


def test_below_the_threshold_lists_equal_the_exact_path(exact):
    items, scores = exact.recommend(USERS, 100)
    base_items, base_scores = Recommender.recommend(exact, USERS, 100)  # the contract's exact path
    np.testing.assert_array_equal(items, base_items)
    np.testing.assert_array_equal(scores, base_scores)
    sim, _ = exact.similar_items(np.arange(50), 20)
    np.testing.assert_array_equal(sim, FactorRecommender.similar_items(exact, np.arange(50), 20)[0])


def test_recall_at_100_against_exact(exact, approx):
    want, want_scores = exact.recommend(USERS, 100)
    got, got_scores = approx.recommend(USERS, 100)
    # measured 0.9993 (a beam of 128: the k fetched) at ef_search 16 and at the default 128
    assert recall(got, want) >= 0.99
    assert recall(approx.set_params(ann_ef_search=128).recommend(USERS, 100)[0], want) >= 0.99
    approx.set_params(ann_ef_search=16)
    # items both lists hold carry the exact score, and each list is best first
    same = got == want
    np.testing.assert_allclose(got_scores[same], want_scores[same], rtol=1e-6)
    assert (np.diff(got_scores, axis=1) <= 0).all()


def test_the_highest_norm_ranges_are_scanned_flat(exact, monkeypatch):
    # ranges starting within the top FLAT_SHARE of the items by norm are flat scans (exact),
    # later ones graphs, even where every range is big enough for a graph (FLAT_BELOW 0)
    monkeypatch.setattr(ann, "FLAT_BELOW", 0)
    vectors, _ = exact._ann_vectors()
    index = ann.ItemIndex.build(vectors)
    head = int(ann.FLAT_SHARE * (np.linalg.norm(vectors, axis=1) > 0).sum())
    starts = np.cumsum([0] + [p.ntotal for p in index.parts[:-1]])
    graphs = [hasattr(p, "hnsw") for p in index.parts]
    assert graphs == [bool(s >= head) for s in starts]
    assert graphs[0] is False and graphs[-1] is True
    # the flat ranges hold the highest norms: every item in them outranks every graph item
    norms = np.linalg.norm(vectors, axis=1)
    flat = np.concatenate([i for i, g in zip(index.ids, graphs, strict=True) if not g])
    graph = np.concatenate([i for i, g in zip(index.ids, graphs, strict=True) if g])
    assert norms[flat].min() >= norms[graph].max()


def test_seen_items_are_never_returned(approx, view):
    got, _ = approx.recommend(USERS, 100)
    seen = view.binary[USERS]
    for row, items in enumerate(got):
        assert (items >= 0).all()
        assert not set(items) & set(seen[row].indices)
    with_seen, _ = approx.recommend(USERS[:20], 100, exclude_seen=False)
    assert any(set(items) & set(seen[r].indices) for r, items in enumerate(with_seen))


def test_batch_equals_one_shopper_at_a_time(approx):
    items, scores = approx.recommend(USERS[:40], 50)
    for r, u in enumerate(USERS[:40:7]):
        one, one_scores = approx.recommend([u], 50)
        np.testing.assert_array_equal(one[0], items[r * 7])
        np.testing.assert_array_equal(one_scores[0], scores[r * 7])


def test_more_than_the_graph_may_fetch_is_scored_exactly(exact, approx):
    n = MAX_FETCH + 10  # every shopper needs more neighbours than MAX_FETCH
    np.testing.assert_array_equal(approx.recommend(USERS[:5], n)[0], exact.recommend(USERS[:5], n)[0])


def test_similar_items_recall_and_no_self(exact, approx):
    items = np.arange(0, 3000, 10)
    got, _ = approx.similar_items(items, 50)
    assert not (got == items[:, None]).any()
    # items nobody touched have zero factors: every other item ties at cosine 0 with them
    learned = items[np.linalg.norm(exact.item_factors_[items], axis=1) > 0]
    assert 200 < len(learned) < len(items)
    got = got[np.isin(items, learned)]
    assert recall(got, exact.similar_items(learned, 50)[0]) >= 0.96  # measured 0.979 at ef_search 16


def test_candidates_come_through_the_index(exact, approx, view):
    mask = exclusion_mask(view)
    got = retrieve([("als", approx, 100)], USERS, exclude=mask)
    want = retrieve([("als", exact, 100)], USERS, exclude=mask)
    assert not mask[got.users, got.items].any()
    pairs = [set(zip(c.users, c.items, strict=True)) for c in (got, want)]
    overlap = len(pairs[0] & pairs[1]) / len(want)
    assert overlap >= 0.97


@pytest.fixture(scope="module")
def saved(approx, tmp_path_factory):
    return approx.save(tmp_path_factory.mktemp("ann") / "als")


def test_save_load_round_trip_keeps_the_index_and_the_lists(approx, saved):
    back = Recommender.load(saved)
    assert back.ann_index_ is not None and back.ann_similar_ is not None
    for a, b in zip(back.recommend(USERS, 100), approx.recommend(USERS, 100), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.similar_items(np.arange(20), 10)[0], approx.similar_items(np.arange(20), 10)[0])


def test_without_faiss_a_saved_index_is_scored_exactly_with_one_warning(exact, saved):
    run = textwrap.dedent(f"""
        import sys
        class NotInstalled:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "faiss":
                    raise ModuleNotFoundError("No module named 'faiss'", name=name)
        sys.meta_path.insert(0, NotInstalled())
        import numpy as np
        from shelfwise.models import Recommender
        model = Recommender.load({str(saved)!r})
        assert model.ann_index_ is None
        np.save(sys.stdout.buffer, model.recommend(np.arange(0, 2000, 4), 100)[0])
    """)
    done = subprocess.run([sys.executable, "-c", run], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    import io

    np.testing.assert_array_equal(np.load(io.BytesIO(done.stdout)), exact.recommend(USERS, 100)[0])
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "faiss is not installed" in lines[0] and "shelfwise[ann]" in lines[0]
