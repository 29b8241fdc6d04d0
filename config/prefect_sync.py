"""Prefect's sync-or-async calls as what they are in this project: synchronous.

Prefect 3 types `Block.load`, `run_deployment` and the artifact functions as returning either
their value or a coroutine (they dispatch on whether an event loop is running). This project
calls them from synchronous code only; `synchronous` turns the union into the value for the
type checker and fails plainly if one is ever called from async code.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def synchronous(result: T | Coroutine[Any, Any, T]) -> T:
    """`result` itself; a coroutine here means the call was made from async code."""
    if isinstance(result, Coroutine):
        result.close()
        raise TypeError("a Prefect call made from async code returned a coroutine; await it")
    return result
