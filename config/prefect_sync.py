"""Prefect's sync-or-async calls as what they are in this project: synchronous.

Prefect 3 types `Block.load`, `run_deployment` and the artifact functions as returning either
their value or a coroutine (they dispatch on whether an event loop is running). This project
calls them from synchronous code only; `synchronous` turns the union into the value for the
type checker and fails plainly if one is ever called from async code.

Prefect also makes a new API client for each block load or save (two for a save: the block
type's registration, then the document), and each new client loads the whole CA bundle (30-50
ms of CPU) and opens its own connection; `one_api_client` makes the calls inside share one.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


def synchronous(result: T | Coroutine[Any, Any, T]) -> T:
    """`result` itself; a coroutine here means the call was made from async code."""
    if isinstance(result, Coroutine):
        result.close()
        raise TypeError("a Prefect call made from async code returned a coroutine; await it")
    return result


@contextmanager
def one_api_client() -> Iterator[None]:
    """Prefect calls made inside (also as a decorator) share one API client: a flow or task
    run's own when inside one, else one made here for the duration."""
    from prefect.context import SyncClientContext

    with SyncClientContext.get_or_create():
        yield
