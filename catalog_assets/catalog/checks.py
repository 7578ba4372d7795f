"""Declared checks: one class per check type, each with its name, description and evaluation.

A check is written in an entry's YAML as a one-key mapping naming its type (``- unique:
[member_id]``) plus the optional ``blocking`` and ``description``; ``Check`` is the discriminated
union pydantic picks the class from. Checks run where the product already is in memory: inside the
notebook kernel, at hand-back, so a check never reads the stored product back. No Dagster imports;
the asset factory turns each ``Outcome`` into a Dagster ``AssetCheckResult``.
"""

from __future__ import annotations

import operator
import re
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

_METRIC = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>>=|<=|==|>|<)\s*"
    r"(?P<value>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*$"
)
_OPERATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}


class Strict(BaseModel):
    """Catalog files are strict: unknown fields and silent type coercion are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


@dataclass(frozen=True)
class Outcome:
    """The result of evaluating one check on one product."""

    name: str
    passed: bool
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Check(Strict):
    """What every check type shares."""

    type: ClassVar[str]
    #: True for checks of a table (datasets); False for checks of a model's metrics.
    on_table: ClassVar[bool] = True
    blocking: bool = False
    description: str | None = None

    def _name_parts(self) -> list[str]:
        raise NotImplementedError

    @property
    def name(self) -> str:
        """A stable check name derived from what is checked (an identifier, as Dagster needs)."""
        return re.sub(r"[^A-Za-z0-9_]+", "_", "__".join(self._name_parts())).strip("_")

    def describe(self) -> str:
        """What the check asserts, in words, for the UI."""
        return self.description or self._describe()

    def _describe(self) -> str:
        raise NotImplementedError

    def evaluate(self, value: Any, metrics: dict[str, float]) -> Outcome:
        """Evaluate on a product; never raises for a product that simply fails the check."""
        if not hasattr(value, "columns") or not hasattr(value, "__len__"):
            return Outcome(self.name, False, f"product is a {type(value).__name__}, not a table")
        missing = [c for c in self._columns() if c not in value.columns]
        if missing:
            return Outcome(self.name, False, f"missing column(s): {', '.join(missing)}")
        return self._evaluate_table(value)

    def _columns(self) -> list[str]:
        return []

    def _evaluate_table(self, frame: Any) -> Outcome:
        raise NotImplementedError


class NotNull(_Check):
    type: ClassVar[str] = "not_null"
    not_null: list[str] = Field(min_length=1)

    def _name_parts(self) -> list[str]:
        return ["not_null", *self.not_null]

    def _describe(self) -> str:
        return f"No nulls in {', '.join(self.not_null)}"

    def _columns(self) -> list[str]:
        return self.not_null

    def _evaluate_table(self, frame: Any) -> Outcome:
        nulls = {c: int(frame[c].isna().sum()) for c in self.not_null}
        bad = {c: n for c, n in nulls.items() if n}
        message = ", ".join(f"{c}: {n} nulls" for c, n in bad.items()) or "no nulls"
        return Outcome(self.name, not bad, message, {"null_counts": nulls})


class Unique(_Check):
    type: ClassVar[str] = "unique"
    unique: list[str] = Field(min_length=1)

    def _name_parts(self) -> list[str]:
        return ["unique", *self.unique]

    def _describe(self) -> str:
        return f"Rows are unique on {', '.join(self.unique)}"

    def _columns(self) -> list[str]:
        return self.unique

    def _evaluate_table(self, frame: Any) -> Outcome:
        duplicated = int(frame.duplicated(subset=self.unique, keep=False).sum())
        message = f"{duplicated} rows share a key" if duplicated else "all keys unique"
        return Outcome(self.name, duplicated == 0, message, {"duplicate_rows": duplicated})


class AcceptedValuesSpec(Strict):
    column: str
    values: list[str | int | float | bool] = Field(min_length=1)


class AcceptedValues(_Check):
    type: ClassVar[str] = "accepted_values"
    accepted_values: AcceptedValuesSpec

    def _name_parts(self) -> list[str]:
        return ["accepted_values", self.accepted_values.column]

    def _describe(self) -> str:
        values = ", ".join(map(str, self.accepted_values.values))
        return f"{self.accepted_values.column} takes only: {values}"

    def _columns(self) -> list[str]:
        return [self.accepted_values.column]

    def _evaluate_table(self, frame: Any) -> Outcome:
        series = frame[self.accepted_values.column].dropna()
        unexpected = series[~series.isin(self.accepted_values.values)]
        examples = sorted(map(str, unexpected.unique()[:10]))
        message = (
            f"{len(unexpected)} rows outside the accepted values, e.g. {', '.join(examples)}"
            if len(unexpected)
            else "all values accepted"
        )
        return Outcome(
            self.name,
            unexpected.empty,
            message,
            {"unexpected_rows": len(unexpected), "unexpected_examples": examples},
        )


class RowCountSpec(Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> RowCountSpec:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class RowCount(_Check):
    type: ClassVar[str] = "row_count"
    row_count: RowCountSpec

    def _name_parts(self) -> list[str]:
        return ["row_count"]

    def _describe(self) -> str:
        low = self.row_count.min if self.row_count.min is not None else 0
        high = self.row_count.max if self.row_count.max is not None else "∞"
        return f"Row count within [{low}, {high}]"

    def _evaluate_table(self, frame: Any) -> Outcome:
        rows = len(frame)
        low, high = self.row_count.min, self.row_count.max
        passed = (low is None or rows >= low) and (high is None or rows <= high)
        return Outcome(self.name, passed, f"{rows} rows", {"row_count": rows})


class Metric(_Check):
    """A threshold on a metric the notebook hands back: ``metric: roc_auc >= 0.7``."""

    type: ClassVar[str] = "metric"
    on_table: ClassVar[bool] = False
    metric: str

    @model_validator(mode="after")
    def _form(self) -> Metric:
        if not _METRIC.match(self.metric):
            raise ValueError(
                f"metric threshold {self.metric!r} is not of the form '<metric> <op> <number>' "
                "with op one of >=, <=, >, <, == (e.g. 'roc_auc >= 0.7')"
            )
        return self

    @property
    def threshold(self) -> tuple[str, str, float]:
        match = _METRIC.match(self.metric)
        assert match, "validated at construction"
        return match["metric"], match["op"], float(match["value"])

    def _name_parts(self) -> list[str]:
        return ["metric", self.threshold[0]]

    def _describe(self) -> str:
        return f"Model metric {self.metric}"

    def evaluate(self, value: Any, metrics: dict[str, float]) -> Outcome:
        metric, op, threshold = self.threshold
        if metric not in metrics:
            return Outcome(
                self.name,
                False,
                f"the notebook reported no metric {metric!r}; pass it as "
                f"catalog.output(model, metrics={{{metric!r}: ...}})",
            )
        actual = float(metrics[metric])
        passed = _OPERATORS[op](actual, threshold)
        return Outcome(
            self.name,
            passed,
            f"{metric} = {actual:.4g} (threshold {op} {threshold:g})",
            {metric: actual, "threshold": threshold},
        )


CHECK_CLASSES: tuple[type[_Check], ...] = (NotNull, Unique, AcceptedValues, RowCount, Metric)
CHECK_TYPES = tuple(c.type for c in CHECK_CLASSES)


def _check_type(value: Any) -> str | None:
    """The tag of a check as written: the one key naming a check type."""
    if isinstance(value, _Check):
        return value.type
    if not isinstance(value, dict):
        return None
    given = [t for t in CHECK_TYPES if t in value]
    return given[0] if len(given) == 1 else None


Check = Annotated[
    Annotated[NotNull, Tag("not_null")]
    | Annotated[Unique, Tag("unique")]
    | Annotated[AcceptedValues, Tag("accepted_values")]
    | Annotated[RowCount, Tag("row_count")]
    | Annotated[Metric, Tag("metric")],
    Discriminator(
        _check_type,
        custom_error_type="check_type",
        custom_error_message=f"give exactly one of {', '.join(CHECK_TYPES)}",
    ),
]
