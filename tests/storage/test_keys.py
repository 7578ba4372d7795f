"""Storage keys: anything that could leave the storage root or alias another key is refused."""

import re

import pytest

from catalog_assets.errors import CatalogAssetsError, StorageError
from catalog_assets.storage import keys

TOO_LONG = "a/" * (keys.MAX_KEY_LENGTH // 2) + "b"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("..", "'..' segments"),
        ("a/../b", "'..' segments"),
        ("./a", "'.' and '..'"),
        ("a/.", "'.' and '..'"),
        ("/abs", "absolute"),
        ("a//b", "empty path segments"),
        ("a/", "trailing '/'"),
        ("a\\b", "backslashes"),
        ("..\\a", "backslashes"),
        ("a\x00b", "control characters"),
        ("a\nb", "control characters"),
        ("a\tb", "control characters"),
        ("a\x7fb", "control characters"),
        (TOO_LONG, f"longer than {keys.MAX_KEY_LENGTH} characters"),
    ],
    ids=repr,
)
def test_refused_keys_name_the_key_and_the_reason(key, reason):
    with pytest.raises(StorageError) as caught:
        keys.validate(key)
    message = str(caught.value)
    assert f"refusing storage key {key!r}" in message
    assert reason in message
    # Users see it as one line from the CLI, which catches the project's error base.
    assert isinstance(caught.value, CatalogAssetsError)


@pytest.mark.parametrize("key", [None, 42, b"a/b"])
def test_non_strings_are_refused(key):
    with pytest.raises(StorageError, match="refusing storage key"):
        keys.validate(key)


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "products/churn_model/2024-01-01.parquet",
        "a.b/c..d/.hidden/e.",
        "...",
        "with space/and-dash_underscore",
        "ünïcødé/ключ/鍵",
        "a" * keys.MAX_KEY_LENGTH,
    ],
)
def test_accepted_keys_come_back_unchanged(key):
    assert keys.validate(key) == key


def test_join_builds_a_validated_key():
    assert keys.join("products", "churn_model", "v1.skops") == "products/churn_model/v1.skops"


@pytest.mark.parametrize(
    "parts",
    [
        ("products", "..", "secrets"),
        ("products", ""),
        ("", "products"),
        ("products/", "x"),
        ("/etc", "passwd"),
        ("products", "a\\b"),
    ],
)
def test_join_refuses_parts_that_make_an_unsafe_key(parts):
    with pytest.raises(StorageError, match="refusing storage key"):
        keys.join(*parts)


@pytest.mark.parametrize(
    ("key", "prefix", "expected"),
    [
        ("prod/x", "prod", True),
        ("prod/a/b/c", "prod", True),
        ("prod/a/b", "prod/a", True),
        ("prod", "prod", False),
        ("prod2/x", "prod", False),
        ("production/x", "prod", False),
        ("pro/x", "prod", False),
        ("prod/a", "prod/a", False),
        ("prod/ab/x", "prod/a", False),
        ("branch/prod/x", "prod", False),
        ("prod", "prod/x", False),
    ],
)
def test_is_under_compares_whole_segments(key, prefix, expected):
    assert keys.is_under(key, prefix) is expected


@pytest.mark.parametrize(
    ("key", "prefix", "bad"),
    [("prod/../branch/x", "prod", "prod/../branch/x"), ("prod/x", "prod/", "prod/")],
)
def test_is_under_refuses_unsafe_keys_and_prefixes(key, prefix, bad):
    with pytest.raises(StorageError, match=re.escape(f"refusing storage key {bad!r}")):
        keys.is_under(key, prefix)
