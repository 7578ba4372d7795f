"""P8: the data diff of two 1,000,000-row frames against reading both from storage.

Production's frame is the P3 frame; the branch's changes 1% of one column's values, drops 1,000
rows, adds 500 and adds a column. Both are stored through the store (parquet objects and refs);
"read" is loading both as a notebook would, "diff" is comparing them as the review report does.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from benchmarks.harness import Figure, Report
from benchmarks.p3_child import frame
from catalog_assets.review.datadiff import diff_frames
from catalog_assets.settings import Deployment
from catalog_assets.storage import formats
from catalog_assets.storage.store import CatalogStore

ROWS = 1_000_000


def branch_version(base):
    rng = np.random.default_rng(9)
    head = base.iloc[1000:].copy()
    changed = rng.choice(len(head), len(head) // 100, replace=False)
    head.iloc[changed, head.columns.get_loc("score")] += 0.5
    extra = base.iloc[:500].copy()
    extra["member_id"] += len(base) + 10
    head = __import__("pandas").concat([head, extra], ignore_index=True)
    head["segment"] = np.where(head["score"] > 0.5, "high", "low")
    return head


def run(report: Report, repeat: int, quick: bool = False) -> None:
    rows = 50_000 if quick else ROWS
    policy = formats.LoadPolicy()
    with tempfile.TemporaryDirectory(prefix="bench-p8-") as scratch:
        store = CatalogStore.open(Deployment("local", scratch))
        base = frame(rows)
        prod = store.write_value(base, {"entry": "scores"}, policy)
        head = store.write_value(branch_version(base), {"entry": "scores_branch"}, policy)
        reads, diffs = [], []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            old, new = store.load(prod, policy), store.load(head, policy)
            loaded = time.perf_counter()
            diff = diff_frames(old, new, ["member_id"])
            done = time.perf_counter()
            reads.append(loaded - started)
            diffs.append(done - loaded)
        assert diff.rows_added == 500 and diff.rows_removed == 1000
        report.figures.append(Figure("P8 read both 1M-row frames from storage", "s", reads[1:]))
        report.figures.append(Figure("P8 data diff of the two frames", "s", diffs[1:]))
    report.ratio(
        "P8 data diff / reading both",
        "P8 data diff of the two frames",
        "P8 read both 1M-row frames from storage",
        2.0,
        "<= 2",
    )
