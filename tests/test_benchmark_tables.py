"""The benchmark's reference figures are stored under the names they are printed with.

With one held-out item per user, NDCG@10 can never exceed HR@10, so a figure whose "NDCG"
is larger than its "HR" has the two swapped (as the reference table once had)."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy.py"


def test_reference_figures_are_named_hr_and_ndcg_in_that_order():
    spec = importlib.util.spec_from_file_location("accuracy_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for dataset, rows in bench.REFERENCE.items():
        for model, ref in rows.items():
            assert set(ref) == {"hr@10", "ndcg@10"}, (dataset, model)
            if ref["hr@10"] is not None:
                assert ref["ndcg@10"] <= ref["hr@10"], (dataset, model, ref)
    for dataset, rows in bench.PUBLISHED.items():
        for name, hr, ndcg, _ in rows:
            assert ndcg <= hr, (dataset, name)
