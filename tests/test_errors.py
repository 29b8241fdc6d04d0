"""One error root: every error an integration raises on purpose is an `IntegrationError`, and
task code decides retries from `retryable` on that root only."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import httpx

import integrations
from integrations.disk import DiskError
from integrations.download import DownloadHTTPError, LocalFileError
from integrations.errors import IntegrationError
from integrations.media.errors import InsufficientSpaceError, MediaError, MediaOutputError
from tasks.common import is_transient

# Not an answer of the outside world: a bug in the caller (the emulators are not walked).
OUTSIDE_THE_ROOT = {"IllegalTransitionError"}


def integration_exceptions() -> list[type[BaseException]]:
    """Every public exception class defined in an integrations module (emulators left out)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(integrations.__path__, "integrations."):
        if info.name.startswith("integrations.sandbox"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[f"{module.__name__}.{name}"] = value
    return list(found.values())


def test_every_integration_error_derives_from_the_root():
    classes = integration_exceptions()
    assert len(classes) > 40  # the walk found the modules
    strays = [
        f"{c.__module__}.{c.__name__}"
        for c in classes
        if not issubclass(c, IntegrationError) and c.__name__ not in OUTSIDE_THE_ROOT
    ]
    assert strays == []


def test_retryable_is_a_class_default_that_one_error_may_override():
    assert not IntegrationError("no").retryable
    assert IntegrationError("later", retryable=True).retryable
    assert DownloadHTTPError("503", 503).retryable and not DownloadHTTPError("404", 404).retryable
    assert is_transient(DownloadHTTPError("503", 503))
    assert not is_transient(DownloadHTTPError("404", 404))


def test_task_code_trusts_the_root_not_any_retryable_attribute():
    class ForeignError(Exception):
        retryable = True

    assert not is_transient(ForeignError("not ours"))
    assert is_transient(httpx.ConnectError("refused"))
    assert not is_transient(ValueError("bad input"))


def test_disk_errors_keep_their_fields_and_messages_under_the_root(tmp_path: Path):
    full = InsufficientSpaceError("no room", path=tmp_path, needed=10, free=1)
    assert isinstance(full, MediaOutputError) and isinstance(full, DiskError)
    assert isinstance(full, MediaError) and isinstance(full, IntegrationError)
    assert str(full) == "no room" and full.message == "no room"
    assert full.waits and full.needed == 10 and full.free == 1 and full.exit_code == 2
    local = LocalFileError("x.mp4: read-only", path=tmp_path / "x.mp4", errno=30)
    assert str(local) == "x.mp4: read-only" and local.waits and not local.retryable
