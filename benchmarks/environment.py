"""Temporary catalogs, Dagster homes and a loopback S3 server for the benchmarks."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3

from tests.helpers import moto_server

TRIVIAL_CODE = (
    'frame = pd.DataFrame({"x": range(1000)})\nframe["y"] = frame["x"] * 2\n'
    'total = frame["y"].sum()'
)


def notebook(cells: list[str], parameters_index: int = 1) -> dict:
    """A clean notebook (python3 kernel) with the cell at ``parameters_index`` tagged parameters."""
    return {
        "cells": [
            {
                "cell_type": "code",
                "id": f"c{i}",
                "execution_count": None,
                "outputs": [],
                "metadata": {"tags": ["parameters"]} if i == parameters_index else {},
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_notebook(path: Path, cells: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook(cells)))
    return path


OUR_CELLS = [
    "import pandas as pd\nfrom catalog_assets import notebook as catalog",
    "# no inputs",
    TRIVIAL_CODE,
    "catalog.output(frame)",
]
STOCK_CELLS = ["import pandas as pd", "# no inputs", TRIVIAL_CODE, "frame.head()"]


def synthetic_catalog(root: Path, entries: int, cells: list[str] = OUR_CELLS) -> Path:
    """``entries`` trivial entries in groups of 50, each taking the previous one of its group."""
    root.mkdir(parents=True, exist_ok=True)
    text = json.dumps(notebook(cells))
    for i in range(entries):
        group = root / f"group_{i // 50:03d}"
        group.mkdir(exist_ok=True)
        (group / f"entry_{i:05d}.ipynb").write_text(text)
        inputs = f"inputs: [entry_{i - 1:05d}]\n" if i % 50 else ""
        (group / f"entry_{i:05d}.yaml").write_text(
            f"description: Synthetic entry {i}.\nowner: team:bench\n{inputs}"
        )
    return root


@contextlib.contextmanager
def dagster_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        (Path(home) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        yield Path(home)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block (child processes and kernels inherit them)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto_server on a free loopback port, with a bucket named ``bench``."""
    with (
        moto_server() as url,
        environment(
            AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
        ),
    ):
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket="bench")
        yield url
