"""`synchronous`: Prefect's sync-or-async results, taken as the synchronous values they are here."""

import asyncio

import pytest
from prefect.blocks.system import Secret

from config.prefect_sync import synchronous


def test_a_value_passes_through() -> None:
    value = {"id": 1}
    assert synchronous(value) is value


def test_a_coroutine_is_refused_and_closed() -> None:
    async def late() -> int:
        return 1

    coroutine = late()
    with pytest.raises(TypeError, match="async code"):
        synchronous(coroutine)
    assert coroutine.cr_frame is None  # closed: no "never awaited" warning


def test_a_prefect_call_from_async_code_fails_plainly() -> None:
    # In an event loop Prefect's `Block.load` returns a coroutine instead of the block.
    async def load() -> None:
        synchronous(Secret.load("no-such-block"))

    with pytest.raises(TypeError, match="async code"):
        asyncio.run(load())
