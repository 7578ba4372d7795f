"""The one error base of the project: every error meant for a user derives from it.

The ``catalog`` command catches ``CatalogAssetsError`` once and prints its message as one line (or
the lines of a problem list); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import re


class CatalogAssetsError(Exception):
    """A user-facing error: the message names what is wrong and what to do."""


class DeploymentError(CatalogAssetsError, ValueError):
    """The environment does not describe one deployment unambiguously."""


class StorageError(CatalogAssetsError, RuntimeError):
    """A storage operation was refused or failed; the message says which object and why."""


class NotebookAPIError(CatalogAssetsError, RuntimeError):
    """A notebook used the notebook API in a way that cannot work; the message says what to do."""


_USER_INFO = re.compile(r"(://)[^/@\s:]+:[^/@\s]+@")


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """``text`` with credentials removed: the user:password of any URL, and every value of
    ``secrets`` (``settings.secret_values``), so a message never carries them."""
    text = _USER_INFO.sub(r"\1***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
