"""P3: store + load of a 1,000,000-row, 10-column frame, ours against Dagster's stock IO managers,
locally and on an S3 API server on loopback; and how often a notebook's product is written and
read in one materialization, ours against stock dagstermill's op path."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import boto3
from watchdog.events import FileClosedEvent, FileClosedNoWriteEvent, FileSystemEventHandler
from watchdog.observers import Observer

from benchmarks.environment import (
    STOCK_CELLS,
    environment,
    s3_server,
    synthetic_catalog,
    write_notebook,
)
from benchmarks.harness import Figure, Report
from benchmarks.ours import our_job
from benchmarks.runs import run_job
from benchmarks.stock import stock_op_job

ROWS = 1_000_000
VARIANTS = {
    "ours_local": "catalog_assets IO manager, local (parquet)",
    "filesystem": "FilesystemIOManager (pickle)",
    "ours_s3": "catalog_assets IO manager, S3 server (parquet)",
    "s3_pickle": "S3PickleIOManager, S3 server (pickle)",
}


def one(variant: str, target: str, endpoint: str, rows: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "benchmarks.p3_child",
            variant,
            target,
            endpoint,
            str(rows),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def stored_bytes(variant: str, target: str, endpoint: str) -> int:
    if variant in ("ours_local", "filesystem"):
        return sum(p.stat().st_size for p in Path(target).rglob("*") if p.is_file())
    bucket = target.split("/")[2]
    listing = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket)
    prefix = "ours/" if variant == "ours_s3" else "pickle/"
    return sum(o["Size"] for o in listing.get("Contents", []) if o["Key"].startswith(prefix))


class _Counter(FileSystemEventHandler):
    def __init__(self) -> None:
        self.writes: list[str] = []
        self.reads: list[str] = []
        self.lock = threading.Lock()

    def on_any_event(self, event) -> None:
        # Products only: the kernel's staged file and the stored object, not the small JSON
        # documents around them (step spec, kernel report, ref, history record) nor notebooks.
        name = Path(str(event.src_path)).name
        # (JSON documents are written through a temporary ``.tmp-<name>.json.<hex>``.)
        if event.is_directory or name.endswith((".ipynb", ".json")) or ".json." in name:
            return
        with self.lock:
            if isinstance(event, FileClosedNoWriteEvent):
                self.reads.append(str(event.src_path))
            elif isinstance(event, FileClosedEvent):
                self.writes.append(str(event.src_path))


def count_product_io(directory: Path, action) -> tuple[int, int]:
    """Writes and reads of files under ``directory`` (inotify) while ``action`` runs."""
    directory.mkdir(parents=True, exist_ok=True)
    counter, observer = _Counter(), Observer()
    observer.schedule(counter, str(directory), recursive=True)
    observer.start()
    try:
        action()
    finally:
        observer.stop()
        observer.join()
    return len(counter.writes), len(counter.reads)


def run(report: Report, repeat: int, quick: bool = False) -> None:
    rows = 50_000 if quick else ROWS
    with tempfile.TemporaryDirectory(prefix="bench-p3-") as scratch, s3_server() as endpoint:
        root = Path(scratch)
        for variant, label in VARIANTS.items():
            results = []
            for attempt in range(repeat + 1):
                target = (
                    f"s3://bench/ours-{attempt}"
                    if variant == "ours_s3"
                    else "s3://bench/x"
                    if variant == "s3_pickle"
                    else str(root / f"{variant}-{attempt}")
                )
                if variant == "ours_s3":
                    target = "s3://bench/ours"
                results.append(one(variant, target, endpoint, rows))
            results = results[1:]
            report.figures.append(
                Figure(
                    f"P3 store+load 1M x 10, {label}",
                    "s",
                    [r["store"] + r["load"] for r in results],
                )
            )
            report.figures.append(
                Figure(f"P3 store 1M x 10, {label}", "s", [r["store"] for r in results])
            )
            report.figures.append(
                Figure(f"P3 load 1M x 10, {label}", "s", [r["load"] for r in results])
            )
            report.figures.append(
                Figure(f"P3 peak memory, {label}", "MB", [r["peak_mb"] for r in results])
            )
            size = stored_bytes(variant, target, endpoint)
            report.figures.append(Figure(f"P3 bytes written, {label}", "MB", [size / 2**20]))
        report.ratio(
            "P3 ours/FilesystemIOManager local",
            f"P3 store+load 1M x 10, {VARIANTS['ours_local']}",
            f"P3 store+load 1M x 10, {VARIANTS['filesystem']}",
        )
        report.ratio(
            "P3 ours/S3PickleIOManager on S3",
            f"P3 store+load 1M x 10, {VARIANTS['ours_s3']}",
            f"P3 store+load 1M x 10, {VARIANTS['s3_pickle']}",
        )
        report.ratio(
            "P3 bytes ours/pickle",
            f"P3 bytes written, {VARIANTS['ours_local']}",
            f"P3 bytes written, {VARIANTS['filesystem']}",
        )

        # How often one notebook product is written and read in a materialization.
        ours = synthetic_catalog(root / "ours-catalog", 1)
        storage = root / "ours-storage"
        with environment(
            CATALOG_DIR=str(ours),
            CATALOG_STORAGE_URL=str(storage),
            CATALOG_HOME=str(root),
            CATALOG_DEPLOYMENT="local",
        ):
            writes, reads = count_product_io(storage, lambda: run_job(our_job))
        report.figures.append(
            Figure("P3 product writes per materialization, ours", "writes", [writes])
        )
        report.figures.append(
            Figure("P3 product reads per materialization, ours", "reads", [reads])
        )
        notebook = write_notebook(
            root / "stock-op.ipynb",
            [
                STOCK_CELLS[0] + "\nimport dagstermill",
                STOCK_CELLS[1],
                STOCK_CELLS[2],
                'dagstermill.yield_result(frame, output_name="result")',
            ],
        )
        out = root / "stock-out"
        with environment(BENCH_STOCK_NOTEBOOK=str(notebook), BENCH_STOCK_OUT=str(out)):
            writes, reads = count_product_io(out, lambda: run_job(stock_op_job))
        report.figures.append(
            Figure("P3 product writes per materialization, stock op", "writes", [writes])
        )
        report.figures.append(
            Figure("P3 product reads per materialization, stock op", "reads", [reads])
        )
