"""Repeat a measurement, summarise it, print and save the figures."""

from __future__ import annotations

import json
import platform
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    """One named figure: median, min and max of repeated samples (after a warm-up)."""

    name: str
    unit: str
    samples: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def to_json(self) -> dict:
        return {
            **asdict(self),
            "median": self.median,
            "min": min(self.samples),
            "max": max(self.samples),
        }


@dataclass
class Ratio:
    """A figure divided by its stock counterpart, with the target it should meet."""

    name: str
    numerator: str
    denominator: str
    value: float
    target: str = ""
    met: bool | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)

    def figure(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)

    def ratio(
        self,
        name: str,
        numerator: str,
        denominator: str,
        limit: float | None = None,
        target: str = "",
    ) -> Ratio:
        value = self.figure(numerator).median / self.figure(denominator).median
        ratio = Ratio(
            name,
            numerator,
            denominator,
            round(value, 3),
            target,
            None if limit is None else value <= limit,
        )
        self.ratios.append(ratio)
        return ratio


def measure(
    name: str, unit: str, sample: Callable[[], float], repeat: int, warmup: int = 1, note: str = ""
) -> Figure:
    """Run ``sample`` ``warmup`` times unrecorded, then ``repeat`` times recorded."""
    for _ in range(warmup):
        sample()
    return Figure(name, unit, [sample() for _ in range(repeat)], note)


def machine() -> dict:
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def print_report(report: Report) -> None:
    print(f"{'figure':<58} {'median':>10} {'min':>10} {'max':>10}  unit")
    for f in report.figures:
        print(
            f"{f.name:<58} {f.median:>10.3f} {min(f.samples):>10.3f} {max(f.samples):>10.3f}"
            f"  {f.unit}"
        )
    if report.ratios:
        print()
        print(f"{'ratio':<58} {'value':>10}  target")
        for r in report.ratios:
            verdict = "" if r.met is None else ("met" if r.met else "MISSED")
            print(f"{r.name:<58} {r.value:>10.3f}  {r.target} {verdict}")


def save(report: Report, path: Path) -> None:
    path.write_text(
        json.dumps(
            {
                "machine": machine(),
                "figures": [f.to_json() for f in report.figures],
                "ratios": [r.to_json() for r in report.ratios],
            },
            indent=2,
        )
    )
