"""Per-deployment credentials on an S3 server that enforces IAM (moto_server with
INITIAL_NO_AUTH_ACTION_COUNT): the shipped policies (deploy/iam/, rendered by `catalog policy`)
let each deployment do its work and nothing more. Only credentials can stop a notebook that calls
boto3 itself: a branch notebook's plain put_object under prod/ is refused by the server."""

import json
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import nbformat
import pytest
from botocore.exceptions import ClientError

from catalog_assets.cli import main
from catalog_assets.settings import Settings, branch_slug
from catalog_assets.storage import formats
from catalog_assets.storage.store import CatalogStore
from tests.helpers import ENTRIES, materialize, moto_process, s3_error, s3_proxy

pytestmark = [pytest.mark.s3, pytest.mark.notebook]

BRANCH = "feature/iam"
OTHER_BRANCH = "feature/someone-else"
PREFIX = "catalog"
#: IAM calls made before the server starts enforcing: create the admin user, its policy, its key.
UNAUTHENTICATED = 3
ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}

INTRUDER = """\
import os
import urllib.parse
import urllib.request
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

from catalog_assets import notebook as catalog
"""
ATTEMPTS = """\
root = urlparse(os.environ["CATALOG_STORAGE_URL"])
s3 = boto3.client("s3", endpoint_url=os.environ["CATALOG_S3_ENDPOINT_URL"])


def attempt(key, **conditions):
    try:
        full = f"{root.path.strip('/')}/{key}"
        s3.put_object(Bucket=root.netloc, Key=full, Body=b"x", **conditions)
        return "written"
    except ClientError as error:
        return error.response["Error"]["Code"]


outcome = {
    "prod": attempt("prod/refs/churn_model.json"),
    "sources": attempt("sources/movio/members.parquet"),
    "other_branch": attempt(f"{other_area}/objects/x.parquet"),
    "own_area": attempt(f"{own_area}/scratch/{os.getpid()}.txt", IfNoneMatch="*"),
    "own_area_unconditional": attempt(f"{own_area}/scratch/anything.txt"),
}
catalog.output(outcome)
"""


def policy(role: str, storage_url: str, capsys, branch: str | None = None) -> dict:
    """The policy as `catalog policy` prints it, minus what moto cannot evaluate (see below)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CATALOG_STORAGE_URL", storage_url)
        assert main(["policy", role, *(["--branch", branch] if branch else [])]) == 0
    document = json.loads(capsys.readouterr().out)
    # moto evaluates no condition but StringEquals and treats the others as met, which would turn
    # the branch's conditional Deny (no unconditional overwrite) into a Deny of every write.
    # AWS evaluates it; here only its presence is checked (test_the_branch_policy_...).
    document["Statement"] = [
        s for s in document["Statement"] if not (s["Effect"] == "Deny" and "Condition" in s)
    ]
    return document


def user(iam, name: str, document: dict) -> dict[str, str]:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


def as_user(monkeypatch, credentials: dict[str, str]) -> None:
    """This process takes another identity, as a deployment's own process would have."""
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    # boto3's default session keeps the credentials it first found; a new identity needs a new one.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


def client(endpoint: str, credentials: dict[str, str]):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
    )


def etags(s3, bucket: str, prefix: str) -> dict[str, str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    return {item["Key"]: item["ETag"] for item in listed}


def refused(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def add_intruder(catalog_dir: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    parameters = nbformat.v4.new_code_cell("own_area = ''\nother_area = ''")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_code_cell(INTRUDER),
        parameters,
        nbformat.v4.new_code_cell(ATTEMPTS),
    ]
    nbformat.write(nb, catalog_dir / "features" / "intruder.ipynb")
    (catalog_dir / "features" / "intruder.yaml").write_text(
        "description: Tries to write where its credentials do not reach.\n"
        "owner: team:security\n"
        f"params:\n  own_area: branches/{branch_slug(BRANCH)}\n"
        f"  other_area: branches/{branch_slug(OTHER_BRANCH)}\n"
    )


def only_conditional_writes(area_key: str):
    """What the branch policy's Deny statement does on AWS, which moto does not evaluate: an
    object-creating request (PutObject, CopyObject, CompleteMultipartUpload) under the branch's
    area without If-None-Match or If-Match is refused."""

    def gate(request) -> tuple[int, bytes] | None:
        url = urllib.parse.urlsplit(request.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        creating = (request.command == "PUT" and "partNumber" not in query) or (
            request.command == "POST" and "uploadId" in query
        )
        conditional = request.headers.get("If-None-Match") or request.headers.get("If-Match")
        if creating and area_key in urllib.parse.unquote(url.path) and not conditional:
            return s3_error(403, "AccessDenied", "unconditional write denied by the policy")
        return None

    return gate


def test_each_deployment_writes_only_where_its_policy_allows(
    catalog_env, catalog_dir, sample_sources, monkeypatch, capsys
):
    with moto_process({"INITIAL_NO_AUTH_ACTION_COUNT": str(UNAUTHENTICATED)}) as (endpoint, _):
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("CATALOG_S3_ENDPOINT_URL", endpoint)
        # The server counted its readiness probes: start its count of unauthenticated calls anew.
        reset = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth",
            data=str(UNAUTHENTICATED).encode(),
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(reset, timeout=10).close()
        bootstrap = boto3.client(
            "iam", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x"
        )
        admin = user(bootstrap, "admin", ADMIN)
        stranger = client(endpoint, {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"})
        assert refused(stranger.list_buckets)  # enforcement is on: unknown keys get nothing
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            aws_access_key_id=admin["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=admin["AWS_SECRET_ACCESS_KEY"],
        )
        bucket = "catalog-iam"
        client(endpoint, admin).create_bucket(Bucket=bucket)
        url = f"s3://{bucket}/{PREFIX}"
        production = user(iam, "production", policy("production", url, capsys))
        branch = user(iam, "branch", policy("branch", url, capsys, BRANCH))
        ingestion = user(iam, "ingestion", policy("ingestion", url, capsys))
        monkeypatch.setenv("CATALOG_STORAGE_URL", url)

        # The ingestion role loads provider files into sources/ and can touch nothing else.
        loader = client(endpoint, ingestion)
        for path in sample_sources.rglob("*.parquet"):
            key = f"{PREFIX}/sources/{path.relative_to(sample_sources).as_posix()}"
            loader.upload_file(str(path), bucket, key)
        assert refused(lambda: loader.put_object(Bucket=bucket, Key=f"{PREFIX}/prod/x", Body=b"x"))

        # Production materializes the catalog with its own credentials, kernels included.
        as_user(monkeypatch, production)
        monkeypatch.setenv("CATALOG_DEPLOYMENT", "prod")
        result = materialize(*ENTRIES)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        writer = client(endpoint, production)
        outside = f"{PREFIX}/sources/x"
        assert refused(lambda: writer.put_object(Bucket=bucket, Key=outside, Body=b"")) == (
            "AccessDenied"
        )
        before = etags(client(endpoint, admin), bucket, f"{PREFIX}/prod/")

        # The branch deployment, with the branch's credentials: its runs read production and
        # create objects in its own area, with conditional writes only (run twice, so a ref is
        # replaced too); its notebook's own boto3 calls reach no further.
        add_intruder(catalog_dir)
        as_user(monkeypatch, branch)
        monkeypatch.setenv("CATALOG_DEPLOYMENT", "branch")
        monkeypatch.setenv("CATALOG_BRANCH", BRANCH)
        area = f"/{bucket}/{PREFIX}/branches/{branch_slug(BRANCH)}/"
        with s3_proxy(endpoint, only_conditional_writes(area)) as gated:
            monkeypatch.setenv("CATALOG_S3_ENDPOINT_URL", gated)
            for _ in range(2):
                result = materialize("churn_scores", "intruder")
                assert result.success, [e.message for e in result.all_events if e.is_failure]
        as_user(monkeypatch, admin)  # reading the result back is the test's, not the branch's
        monkeypatch.setenv("CATALOG_S3_ENDPOINT_URL", endpoint)
        settings = Settings.from_env()
        store = CatalogStore.open(settings.deployment, settings.s3)
        assert len(store.history("churn_scores")) == 2
        stored = store.load(store.read_ref("intruder")[0], formats.LoadPolicy())
        assert stored == {
            "prod": "AccessDenied",
            "sources": "AccessDenied",
            "other_branch": "AccessDenied",
            "own_area": "written",
            "own_area_unconditional": "AccessDenied",
        }
        assert etags(client(endpoint, admin), bucket, f"{PREFIX}/prod/") == before


def test_the_branch_policy_never_lets_a_branch_overwrite_or_delete(capsys, monkeypatch):
    monkeypatch.setenv("CATALOG_STORAGE_URL", "s3://bucket/catalog")
    assert main(["policy", "branch", "--branch", BRANCH]) == 0
    statements = json.loads(capsys.readouterr().out)["Statement"]
    area = f"arn:aws:s3:::bucket/catalog/branches/{branch_slug(BRANCH)}/*"
    allowed = {
        action
        for s in statements
        if s["Effect"] == "Allow"
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "s3:DeleteObject" not in allowed and "s3:*" not in allowed
    writes = [s for s in statements if s["Effect"] == "Allow" and "s3:PutObject" in s["Action"]]
    assert [s["Resource"] for s in writes] == [area]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Action"] == "s3:PutObject" and deny["Resource"] == area
    # Only a create-only (If-None-Match) or compare-and-swap (If-Match) write creates an object.
    assert deny["Condition"]["Null"] == {"s3:if-none-match": "true", "s3:if-match": "true"}
    assert deny["Condition"]["Bool"] == {"s3:ObjectCreationOperation": "true"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["policy", "branch"], "--branch names the branch"),
        (["policy", "production", "--branch", "x"], "--branch names the branch"),
    ],
)
def test_policy_mistakes_are_one_line(argv, message, capsys, monkeypatch):
    monkeypatch.setenv("CATALOG_STORAGE_URL", "s3://bucket/catalog")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_policies_are_for_s3_storage(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CATALOG_STORAGE_URL", str(tmp_path))
    assert main(["policy", "production"]) == 2
    assert "IAM policies are for storage on S3" in capsys.readouterr().err
