"""python -m benchmarks [--json OUT] [--only NAME] [--repeat N]"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from benchmarks.harness import Report, machine, print_report, save

FIGURES = {
    "p1": "benchmarks.p1_overhead",
    "p2": "benchmarks.p2_load",
    "p3": "benchmarks.p3_storage",
    "p6": "benchmarks.p6_parallel",
    "p7": "benchmarks.p7_refs",
    "p8": "benchmarks.p8_datadiff",
    "p9": "benchmarks.p9_preview",
    "p10": "benchmarks.p10_sensor",
    "p11": "benchmarks.p11_promotion",
    "p12": "benchmarks.p12_validate",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument(
        "--only", choices=sorted(FIGURES), action="append", help="run only this figure (repeatable)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="recorded repetitions (default 5)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: small sizes, 1 repetition (numbers meaningless)",
    )
    args = parser.parse_args(argv)

    report = Report()
    repeat = 1 if args.quick else args.repeat
    print(f"machine: {machine()}", file=sys.stderr)
    for name in args.only or sorted(FIGURES):
        started = time.perf_counter()
        importlib.import_module(FIGURES[name]).run(report, repeat, quick=args.quick)
        print(f"{name} done in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    print_report(report)
    if args.json:
        save(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
