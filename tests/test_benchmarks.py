"""A smoke run of the benchmark harness (the numbers of a quick run mean nothing)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_command_writes_named_figures(tmp_path):
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "p2", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    names = {f["name"] for f in report["figures"]}
    assert {"P2 load 10 entries, ours", "P2 load 10 entries, stock"} <= names
    for figure in report["figures"]:
        assert figure["min"] <= figure["median"] <= figure["max"] and figure["min"] > 0
    assert report["machine"]["cpus"] >= 1
    assert "P2 load ours/stock at 10" in result.stdout
