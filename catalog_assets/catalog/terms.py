"""Data-usage terms, as data: what each provider allows, which tenants opt out of what, and what
follows for one entry.

A source in ``sources.yaml`` declares its provider's ``terms``: the column naming the tenant (the
cinema chain) of each row, the purposes its data may serve, whether tenants may be combined
(``cross_tenant``), its personal columns, and how long products derived from it may be kept. The
tenants are listed in ``tenants.yaml``, each with its own opt-outs (a chain that forbids pooled
model training, or marketing use of its members' visits). An entry declares its ``purpose`` and
its ``tenancy``: ``per_tenant`` (one partition per tenant, each seeing only its tenant's rows) or
``pooled`` (one product over every tenant whose terms allow it).

``Governance`` is what follows for one entry, computed once from the whole catalog: what
``catalog validate`` refuses, which rows and columns ``catalog.load`` hands the notebook, which
columns ``catalog.output`` refuses, and which tenant partitions may run at all. The same object
serves the run step, Jupyter and the refresh sensor. No Dagster imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, field_validator, model_validator

from catalog_assets.catalog.checks import Strict

Tenancy = Literal["per_tenant", "pooled"]
CrossTenant = Literal["forbidden", "aggregated", "allowed"]
TENANTS_FILE = "tenants.yaml"
#: The partitions of every per-tenant entry: one per tenant of tenants.yaml (Dagster's dynamic
#: partitions, so a new chain needs no code change).
TENANT_PARTITIONS = "tenant"


class Terms(Strict):
    """What a provider allows done with one source's data."""

    #: The column naming each row's tenant; none when the data belongs to no tenant.
    tenant_column: str | None = Field(None, min_length=1)
    allowed_purposes: list[str] = Field(min_length=1)
    #: Whether one product may combine several tenants' rows: never, only as aggregates (no row
    #: identifying a data subject leaves), or freely.
    cross_tenant: CrossTenant = "forbidden"
    #: Columns identifying a person directly (name, email, birth date): dropped on load unless an
    #: entry declares it needs them, refused in a product that does not declare them.
    personal_columns: list[str] = Field(default_factory=list)
    #: Columns identifying a data subject (member_id): an aggregated pooled product may not hold
    #: them.
    subject_columns: list[str] = Field(default_factory=list)
    #: Products derived from this source are expired by ``catalog gc`` after this many days.
    retention_days: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _tenancy_needs_a_column(self) -> Terms:
        if self.cross_tenant != "allowed" and self.tenant_column is None:
            raise ValueError(
                f"cross_tenant: {self.cross_tenant} needs tenant_column (the column naming each "
                "row's tenant)"
            )
        return self


class OptOut(Strict):
    """A tenant's restriction on top of its sources' terms."""

    #: Purposes this tenant's rows may not serve at all.
    purposes: list[str] = Field(default_factory=list)
    #: Purposes for which this tenant's rows may not be pooled with other tenants'.
    pooled: list[str] = Field(default_factory=list)
    #: The sources it covers (default: every source with a tenant column).
    sources: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _says_something(self) -> OptOut:
        if not self.purposes and not self.pooled:
            raise ValueError("give the purposes opted out of (purposes: [...] or pooled: [...])")
        return self


class Tenant(Strict):
    #: The value of the sources' tenant column for this tenant's rows.
    id: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1)
    opt_out: list[OptOut] = Field(default_factory=list)


class TenantsFile(Strict):
    tenants: list[Tenant] = Field(default_factory=list)

    @field_validator("tenants")
    @classmethod
    def _unique(cls, value: list[Tenant]) -> list[Tenant]:
        ids = [t.id for t in value]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"tenant {', '.join(repeated)} is listed more than once")
        return value


class PersonalData(Strict):
    """An entry's declaration that it needs personal columns, and why."""

    columns: list[str] = Field(min_length=1)
    reason: str = Field(min_length=10)


@dataclass(frozen=True)
class InputUsage:
    """What ``catalog.load`` hands a notebook of one input."""

    #: Keep only rows whose ``tenant_column`` is one of ``tenants`` (None: every row).
    tenant_column: str | None = None
    tenants: tuple[str, ...] | None = None
    #: Columns removed before the notebook sees the value.
    drop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Governance:
    """The terms that govern one entry, and what follows from them.

    ``reach`` maps each direct input to the sources it reads, directly or through other entries;
    ``terms`` holds the terms of every such source that declares any.
    """

    entry: str
    purpose: str | None
    tenancy: Tenancy | None
    reach: dict[str, tuple[str, ...]]
    terms: dict[str, Terms]
    tenants: tuple[Tenant, ...] = ()
    personal: tuple[str, ...] = ()
    upstream_tenancy: dict[str, Tenancy | None] = field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({s for reached in self.reach.values() for s in reached}))

    @property
    def governed(self) -> bool:
        return bool(self.terms)

    def _opted_out(self, tenant: Tenant, source: str, pooled: bool) -> OptOut | None:
        for opt_out in tenant.opt_out:
            if opt_out.sources is not None and source not in opt_out.sources:
                continue
            if self.purpose in opt_out.purposes or (pooled and self.purpose in opt_out.pooled):
                return opt_out
        return None

    def allowed_tenants(self, sources: tuple[str, ...], pooled: bool) -> tuple[str, ...]:
        """The tenants whose rows of every source in ``sources`` may serve this purpose (pooled
        or not), in the order of tenants.yaml."""
        tenant_sources = [s for s in sources if s in self.terms and self.terms[s].tenant_column]
        return tuple(
            t.id
            for t in self.tenants
            if not any(self._opted_out(t, s, pooled) for s in tenant_sources)
        )

    def partitions(self) -> tuple[str, ...]:
        """The tenants this per-tenant entry may run for."""
        return self.allowed_tenants(self.sources, pooled=False)

    def refusal(self, tenant: str) -> str | None:
        """Why this entry may not run for ``tenant``, or None."""
        found = next((t for t in self.tenants if t.id == tenant), None)
        if found is None:
            known = ", ".join(t.id for t in self.tenants) or "none"
            return f"{tenant!r} is not a tenant of {TENANTS_FILE} (tenants: {known})"
        for source in self.sources:
            if source in self.terms and self.terms[source].tenant_column:
                if self._opted_out(found, source, pooled=False):
                    return (
                        f"tenant {tenant} ({found.name}) does not allow {self.purpose} use of "
                        f"source {source} ({TENANTS_FILE}); {self.entry} does not run for it"
                    )
        return None

    def usage(self, name: str, tenant: str | None) -> InputUsage:
        """What ``catalog.load(name)`` hands this entry's notebook (for ``tenant``'s partition
        of a per-tenant entry)."""
        reached = self.reach.get(name, ())
        drop = tuple(
            sorted(
                {
                    column
                    for source in reached
                    if source in self.terms
                    for column in self.terms[source].personal_columns
                    if column not in self.personal
                }
            )
        )
        columns = {self.terms[s].tenant_column for s in reached if s in self.terms} - {None}
        column = next(iter(columns)) if len(columns) == 1 else None
        if not columns:
            return InputUsage(drop=drop)
        if self.tenancy == "per_tenant":
            return InputUsage(column, (tenant,) if tenant else (), drop)
        return InputUsage(column, self.allowed_tenants(reached, pooled=True), drop)

    def forbidden_columns(self) -> dict[str, str]:
        """Columns this entry's product may not hold, each with why (and what to do)."""
        found: dict[str, str] = {}
        for source in self.sources:
            terms = self.terms.get(source)
            if terms is None:
                continue
            for column in terms.personal_columns:
                if column not in self.personal:
                    found.setdefault(
                        column,
                        f"column {column!r} is personal data of source {source}; declare it "
                        "under personal_data (columns and reason) or drop it",
                    )
            if self.tenancy == "pooled" and terms.cross_tenant == "aggregated":
                for column in terms.subject_columns:
                    found.setdefault(
                        column,
                        f"column {column!r} identifies a data subject of source {source}, "
                        "whose terms allow pooling tenants only as aggregates (cross_tenant: "
                        "aggregated); aggregate it away or make the entry per_tenant",
                    )
        return found

    def retention_days(self) -> int | None:
        """The shortest retention of the sources this entry reads."""
        days = [t.retention_days for s, t in self.terms.items() if t.retention_days]
        return min(days) if days else None

    def fingerprint(self) -> dict:
        """What of the terms decides this entry's product (part of its code version)."""
        pooled = self.tenancy == "pooled"
        return {
            "purpose": self.purpose,
            "tenancy": self.tenancy,
            "terms": {s: t.model_dump(mode="json") for s, t in sorted(self.terms.items())},
            "pool": {
                name: list(self.allowed_tenants(reached, pooled=True))
                for name, reached in sorted(self.reach.items())
            }
            if pooled
            else {},
        }


Reach = dict[str, tuple[str, ...]]


def reaches(graph: dict[str, list[str]], sources: set[str]) -> dict[str, Reach]:
    """For each entry of ``graph`` (entry -> inputs), each input -> the sources it reads,
    directly or through other entries (cycles, reported elsewhere, end the walk)."""
    memo: dict[str, tuple[str, ...]] = {}

    def of(name: str, visiting: frozenset[str]) -> tuple[str, ...]:
        if name in sources:
            return (name,)
        if name in memo:
            return memo[name]
        if name in visiting or name not in graph:
            return ()
        found = sorted({s for i in graph[name] for s in of(i, visiting | {name})})
        memo[name] = tuple(found)
        return memo[name]

    return {name: {i: of(i, frozenset({name})) for i in inputs} for name, inputs in graph.items()}


def govern(
    entry: str,
    purpose: str | None,
    tenancy: Tenancy | None,
    personal: list[str],
    reach: Reach,
    terms: dict[str, Terms],
    providers: dict[str, str],
    tenants: tuple[Tenant, ...],
    upstream_tenancy: dict[str, Tenancy | None],
) -> tuple[Governance, list[tuple[str, str]]]:
    """The governance of one entry, and its (field, message) problems under the terms."""
    governance = Governance(
        entry,
        purpose,
        tenancy,
        reach,
        {s: terms[s] for r in reach.values() for s in r if s in terms},
        tenants,
        tuple(personal),
        upstream_tenancy,
    )
    problems: list[tuple[str, str]] = []

    def via(source: str) -> str:
        through = next((i for i, r in reach.items() if source in r and i != source), None)
        return f", read through {through}" if through and source not in reach else ""

    governed = sorted(governance.terms)
    if governed and purpose is None:
        common = set.intersection(*(set(terms[s].allowed_purposes) for s in governed))
        problems.append(
            (
                "purpose",
                f"required: it reads {', '.join(governed)} under their provider's terms; declare "
                f"what it is for (allowed by all: {', '.join(sorted(common)) or 'none'})",
            )
        )
    for source in governed:
        allowed = terms[source].allowed_purposes
        if purpose is not None and purpose not in allowed:
            problems.append(
                (
                    "purpose",
                    f"{purpose!r} is not allowed by the terms of source {source} (provider "
                    f"{providers.get(source, '?')} allows {', '.join(allowed)}){via(source)}",
                )
            )
    tenant_sources = [s for s in governed if terms[s].tenant_column]
    if tenant_sources and tenancy is None:
        example = tenant_sources[0]
        problems.append(
            (
                "tenancy",
                f"required: it reads tenant data ({example}: {terms[example].tenant_column}); "
                "declare per_tenant (a partition per tenant) or pooled",
            )
        )
    if tenancy is not None and not tenant_sources:
        problems.append(("tenancy", f"{tenancy}, but it reads no tenant data; remove tenancy"))
    if tenancy == "pooled":
        for source in tenant_sources:
            if terms[source].cross_tenant == "forbidden":
                problems.append(
                    (
                        "tenancy",
                        f"pooled, but the terms of source {source} forbid combining tenants "
                        f"(cross_tenant: forbidden){via(source)}; make it per_tenant",
                    )
                )
    if tenancy == "per_tenant" and not tenants:
        problems.append(("tenancy", f"per_tenant, but {TENANTS_FILE} lists no tenant"))
    known = {c for s in governed for c in terms[s].personal_columns}
    for index, column in enumerate(personal):
        if column not in known:
            problems.append(
                (
                    f"personal_data.columns.{index}",
                    f"{column!r} is not a personal column of any source it reads "
                    f"({', '.join(sorted(known)) or 'none declared'})",
                )
            )
    return governance, problems


@dataclass(frozen=True)
class Slot:
    """One stored product (or source) an input reads: ``label`` names it in the provenance."""

    label: str
    name: str
    partition: str | None = None


def slots(
    governance: Governance | None,
    inputs: list[str],
    upstream: dict[str, Governance | None],
    tenant: str | None,
) -> list[Slot]:
    """What each input of an entry reads for ``tenant``'s partition (None: unpartitioned).

    A per-tenant entry reads a per-tenant upstream's same partition; a pooled entry reads every
    partition of a per-tenant upstream whose tenant its terms allow (labelled ``name[tenant]``);
    anything else reads the upstream's one product.
    """
    found = []
    for name in inputs:
        parent = upstream.get(name)
        if parent is None or parent.tenancy != "per_tenant":
            found.append(Slot(name, name))
        elif tenant is not None:
            found.append(Slot(name, name, tenant))
        else:
            allowed = governance.usage(name, None).tenants if governance else None
            runnable = set(parent.partitions())
            for each in allowed if allowed is not None else parent.partitions():
                if each in runnable:
                    found.append(Slot(f"{name}[{each}]", name, each))
    return found


def run_label(entry: str, tenant: str | None) -> str:
    """How one run of an entry names its files (staging, executed notebook): the tenant is part
    of the name, so ``catalog purge --tenant`` finds them."""
    return entry if tenant is None else f"{entry}--{tenant}"
