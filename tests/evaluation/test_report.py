import numpy as np
from PIL import Image

from shelfwise.data.interactions import Interactions
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.harness import evaluate_models, results_frame, truth_from
from shelfwise.evaluation.report import f1_curve, write_report
from shelfwise.models import create


def test_harness_and_report_on_the_synthetic_shop(tmp_path, small_shop):
    split = leave_one_out(small_shop.events, by="item")
    train = Interactions.from_events(split.train, items=small_shop.items)
    results = evaluate_models({"popular": create("popular"), "itemknn": create("itemknn")},
                              train, split.test)
    frame = results_frame(results)
    assert frame.loc["itemknn", "ndcg@10"] > frame.loc["popular", "ndcg@10"]
    assert (frame["fit_s"] >= 0).all() and (frame["ms_per_user_batch"] > 0).all()
    _, truth = truth_from(split.test, train)
    assert len(truth) == split.test["user_id"].nunique()
    folder = write_report(tmp_path / "r", results, truth)
    image = Image.open(folder / "f1_by_k.png")
    assert image.size[0] > 400
    curve = f1_curve(results[1].recs, truth)
    assert curve.shape == (50,)
    assert np.isclose(curve[4], results[1].metrics["f1@5"])
    # one target per user: P@1 = R@1 = HR@1, so F1@1 is the share of users hit at rank 1
    top1 = results[1].recs[:, 0]
    assert np.isclose(curve[0], np.mean([t in truth[u] for u, t in enumerate(top1)]))
    assert "itemknn" in (folder / "report.md").read_text()
