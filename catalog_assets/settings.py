"""Settings: the one reader of the environment, and which deployment this process is.

``Settings.from_env(mapping)`` is the only place that reads environment variables; everything else
takes the ``Settings`` (or the ``Deployment`` in it) as an argument. It is called when definitions
are built (never at import time), by the CLI, and by the notebook API in Jupyter.
``resolve_deployment`` answers local, a scientist's branch, or production, as a pure function of
the environment given; every per-deployment setting (storage area, where inputs are read from)
follows from it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from catalog_assets.catalog.files import Limits
from catalog_assets.errors import DeploymentError

DeploymentKind = Literal["local", "branch", "prod"]
DEFAULT_PROD_DEPLOYMENT_NAME = "prod"
_TRUE = {"1", "true", "yes"}


@dataclass(frozen=True)
class Deployment:
    """Where this process reads and writes.

    Attributes:
        kind: ``local``, ``branch`` or ``prod``.
        storage_url: the root of all storage (a local path, ``file://`` or ``s3://`` URL).
        branch: the git branch of a branch deployment, exactly as given.
        slug: the branch's area name: a readable slug plus a short hash of the exact name.
    """

    kind: DeploymentKind
    storage_url: str
    branch: str | None = None
    slug: str | None = None

    @property
    def area(self) -> str:
        """The storage area this deployment writes: ``local``, ``prod`` or ``branches/<slug>``."""
        return f"branches/{self.slug}" if self.kind == "branch" else self.kind

    @property
    def read_areas(self) -> tuple[str, ...]:
        """Areas an input's ref is looked up in, first match wins: a branch defers to production."""
        return (self.area, PROD_AREA) if self.kind == "branch" else (self.area,)

    @property
    def label(self) -> str:
        return f"branch {self.branch}" if self.kind == "branch" else self.kind


PROD_AREA = "prod"


def project_home(environ: Mapping[str, str] | None = None) -> Path:
    """The project directory: ``CATALOG_HOME``, else this checkout, else the working directory.

    The checkout is found from the package itself so a notebook kernel (whose working directory is
    the notebook's folder) and the code server agree on it.
    """
    environ = os.environ if environ is None else environ
    if environ.get("CATALOG_HOME"):
        return Path(environ["CATALOG_HOME"])
    return project_checkout() or Path.cwd()


def project_checkout() -> Path | None:
    """The checkout this package runs from (its code, ``pyproject.toml``), if it is one."""
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "workspace.yaml").exists() else None


def default_storage_url(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get("CATALOG_STORAGE_URL") or str(project_home(environ) / ".catalog" / "storage")


def branch_slug(branch: str) -> str:
    """A git branch as its area name: ``feature/Churn v2`` -> ``feature-churn-v2-<10 hex>``.

    The readable part is for people; the hash of the exact name keeps distinct branches apart
    (``Feature/X``, ``feature-x`` and ``feature_x`` share a readable part, never an area).

    Raises:
        DeploymentError: for an empty name, or one that could escape its area or says nothing.
    """
    if not branch or not branch.strip():
        raise DeploymentError("the branch name is empty; set CATALOG_BRANCH to the git branch")
    if branch.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", branch):
        raise DeploymentError(
            f"branch name {branch!r} is refused: it could escape the branches/ storage prefix"
        )
    readable = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-")
    if not readable:
        raise DeploymentError(f"branch name {branch!r} has no letters or digits to name it by")
    digest = hashlib.sha256(branch.encode("utf-8")).hexdigest()[:10]
    return f"{readable[:40].strip('-')}-{digest}"


def resolve_deployment(environ: Mapping[str, str]) -> Deployment:
    """Decide the deployment from ``environ`` alone.

    - ``prod`` when ``CATALOG_DEPLOYMENT=prod``, or on Dagster+ when
      ``DAGSTER_CLOUD_DEPLOYMENT_NAME`` is the production deployment
      (``CATALOG_PROD_DEPLOYMENT_NAME``, default ``prod``) and it is not a branch deployment;
    - ``branch`` when ``CATALOG_BRANCH`` is set, or on Dagster+ when
      ``DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT=1`` (branch from ``DAGSTER_CLOUD_GIT_BRANCH``);
    - ``local`` otherwise.

    Raises:
        DeploymentError: when the variables contradict each other or a branch name is unsafe.
    """
    storage_url = default_storage_url(environ)
    requested = environ.get("CATALOG_DEPLOYMENT", "").strip().lower()
    if requested not in ("", "local", "prod", "branch"):
        raise DeploymentError(f"CATALOG_DEPLOYMENT={requested!r} is not one of local, branch, prod")
    cloud_branch = environ.get("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", "").lower() in _TRUE
    if "CATALOG_BRANCH" in environ and not environ["CATALOG_BRANCH"].strip():
        raise DeploymentError(
            "CATALOG_BRANCH is set but empty; set it to the git branch, or unset it for local"
        )
    branch = environ.get("CATALOG_BRANCH") or (
        environ.get("DAGSTER_CLOUD_GIT_BRANCH") if cloud_branch else None
    )
    if cloud_branch and branch is None:
        raise DeploymentError(
            "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT is set but DAGSTER_CLOUD_GIT_BRANCH is not; "
            "a branch deployment needs its git branch"
        )
    prod_name = environ.get("CATALOG_PROD_DEPLOYMENT_NAME") or DEFAULT_PROD_DEPLOYMENT_NAME
    cloud_prod = environ.get("DAGSTER_CLOUD_DEPLOYMENT_NAME") == prod_name and not cloud_branch

    if branch is not None or requested == "branch":
        if requested == "prod":
            raise DeploymentError(
                "CATALOG_DEPLOYMENT=prod contradicts a branch (CATALOG_BRANCH or a Dagster+ "
                "branch deployment); production never runs as a branch"
            )
        if branch is None:
            raise DeploymentError("CATALOG_DEPLOYMENT=branch needs CATALOG_BRANCH=<git branch>")
        return Deployment("branch", storage_url, branch=branch, slug=branch_slug(branch))
    if requested == "prod" or (cloud_prod and requested != "local"):
        return Deployment("prod", storage_url)
    return Deployment("local", storage_url)


def s3_options(environ: Mapping[str, str]) -> dict[str, Any]:
    """Explicit S3 settings for S3-compatible servers (MinIO, a test server).

    Without them boto3 reads the standard ``AWS_ENDPOINT_URL`` / ``AWS_REGION`` itself, in the step
    process and in the kernel alike.
    """
    options = {
        "endpoint_url": environ.get("CATALOG_S3_ENDPOINT_URL", ""),
        "region_name": environ.get("CATALOG_S3_REGION", ""),
    }
    found: dict[str, Any] = {name: value for name, value in options.items() if value}
    numbers = {
        "CATALOG_S3_SINGLE_PUT_MB": ("single_put_limit", lambda v: int(v * 2**20)),
        "CATALOG_S3_CONNECT_TIMEOUT": ("connect_timeout", float),
        "CATALOG_S3_READ_TIMEOUT": ("read_timeout", float),
        "CATALOG_S3_MAX_ATTEMPTS": ("max_attempts", int),
    }
    for variable, (option, convert) in numbers.items():
        if environ.get(variable):
            try:
                value = float(environ[variable])
                if value <= 0:
                    raise ValueError
            except ValueError:
                raise DeploymentError(
                    f"{variable}={environ[variable]!r} is not a positive number"
                ) from None
            found[option] = convert(value)
    return found


def default_catalog_dir(environ: Mapping[str, str]) -> Path:
    """``CATALOG_DIR`` if set, else ``notebooks/`` in the project."""
    configured = environ.get("CATALOG_DIR")
    return Path(configured) if configured else project_home(environ) / "notebooks"


@dataclass(frozen=True)
class Settings:
    """Everything this process takes from its environment, resolved once.

    Attributes:
        home: the project directory (``.catalog/`` lives there).
        catalog_dir: the catalog root.
        deployment: local, branch or prod, with its storage root.
        s3: explicit S3 endpoint/region for the catalog's storage (may be empty).
    """

    home: Path
    catalog_dir: Path
    deployment: Deployment
    s3: dict[str, str] = field(default_factory=dict)
    dagster_home: str | None = None
    #: Fail loading the code location on any catalog problem instead of isolating bad entries.
    strict: bool = False
    #: The git branch production deploys from: what previews and `catalog diff` compare with.
    prod_branch: str = "main"
    #: Set by `catalog preview` for its runs: where the review report will be.
    preview_report: str | None = None
    #: Start the refresh sensor by default (always in production; opt-in for local).
    refresh: bool = False
    #: Stream output kept per cell (executed notebooks, compute logs): lines, and megabytes.
    max_output_lines: int = 1000
    max_output_mb: float = 1.0
    #: The largest metadata file and notebook the catalog reads.
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = dict(os.environ if environ is None else environ)
        return cls(
            home=project_home(environ),
            catalog_dir=default_catalog_dir(environ),
            deployment=resolve_deployment(environ),
            s3=s3_options(environ),
            dagster_home=environ.get("DAGSTER_HOME") or None,
            strict=environ.get("CATALOG_STRICT", "").strip().lower() in _TRUE,
            prod_branch=environ.get("CATALOG_PROD_BRANCH") or "main",
            preview_report=environ.get("CATALOG_PREVIEW_REPORT") or None,
            refresh=environ.get("CATALOG_REFRESH", "").strip().lower() in _TRUE,
            max_output_lines=int(_positive(environ, "CATALOG_MAX_OUTPUT_LINES", 1000)),
            max_output_mb=_positive(environ, "CATALOG_MAX_OUTPUT_MB", 1.0),
            limits=Limits(
                metadata_bytes=int(_positive(environ, "CATALOG_MAX_METADATA_KB", 256) * 1024),
                notebook_bytes=int(_positive(environ, "CATALOG_MAX_NOTEBOOK_MB", 20) * 2**20),
            ),
        )

    @staticmethod
    def s3_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Only the S3 options, for a notebook kernel, which has no deployment of its own."""
        return s3_options(os.environ if environ is None else environ)

    @property
    def executed_dir(self) -> Path:
        """Executed notebooks, under the code server's working directory ("View notebook")."""
        return self.home / ".catalog" / "executed"


def _positive(environ: Mapping[str, str], name: str, default: float) -> float:
    if not environ.get(name):
        return default
    try:
        value = float(environ[name])
    except ValueError:
        value = -1
    if value <= 0:
        raise DeploymentError(f"{name}={environ[name]!r} is not a positive number")
    return value


#: What a notebook kernel is given of the environment: what Python, Jupyter, the numeric
#: libraries and the catalog's storage need, never the deployment's other secrets (database
#: URLs, tokens, Dagster's own settings).
_KERNEL_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TERM",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONWARNINGS",
        "PYTHONUTF8",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "MPLBACKEND",
        "MPLCONFIGDIR",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "AWS_CA_BUNDLE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
    }
)
_KERNEL_PREFIXES = (
    "LC_",
    "JUPYTER_",
    "IPYTHON",
    "XDG_",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "NUMEXPR_",
    "CATALOG_",
)
#: The deployment's credentials for storage, which the kernel needs to read its inputs.
_CREDENTIALS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)
_KERNEL_CREDENTIALS = "CATALOG_KERNEL_"


def kernel_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a notebook kernel: an allow-list of the step's, plus storage
    credentials: ``CATALOG_KERNEL_AWS_*`` when given (credentials scoped for kernels, e.g. a
    read-only role), else the deployment's own ``AWS_*``."""
    env = {
        name: value
        for name, value in environ.items()
        if (name in _KERNEL_NAMES or name.startswith(_KERNEL_PREFIXES))
        and not name.startswith(_KERNEL_CREDENTIALS)
    }
    scoped = {
        name[len(_KERNEL_CREDENTIALS) :]: value
        for name, value in environ.items()
        if name.startswith(_KERNEL_CREDENTIALS + "AWS_")
    }
    env.update(scoped or {name: environ[name] for name in _CREDENTIALS if name in environ})
    return env


_SECRET_NAME = re.compile(
    r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE|API_KEY|ACCESS_KEY|"
    r"DATABASE_URL|_DSN$|^DSN$|_URI$|_URL$",
    re.IGNORECASE,
)


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """Values in the environment that must never appear in an artefact: those of variables
    named like secrets, and the user:password part of any URL-valued variable."""
    found = set()
    for name, value in environ.items():
        if not value or len(value) < 6:
            continue
        if _SECRET_NAME.search(name) and not name.endswith(("_URL", "_URI")):
            found.add(value)
        for user_info in re.findall(r"://([^/@\s]+)@", value):
            if ":" in user_info:
                found.add(user_info.split(":", 1)[1])
                found.add(user_info)
    return sorted(found, key=len, reverse=True)
