"""Flow-run state hooks: a crashed or cancelled run gives its claims back at once."""

from __future__ import annotations

from typing import Any, TypedDict

from tasks.common import get_store, run_logger, worker_identity


def release_claims(flow: Any, flow_run: Any, state: Any) -> None:
    """`on_crashed` / `on_cancellation`: return this run's claimed rows to their last good status.

    Without it they would wait for their lease to run out (a run killed with -9 still does).
    """
    changes = get_store().release(worker_identity(flow_run.id))
    if changes:
        run_logger().warning(
            "Run %s ended %s: released recordings %s",
            flow_run.name,
            state.name,
            ", ".join(str(c.recording_id) for c in changes),
        )


class FlowHooks(TypedDict):
    """`@flow` keyword arguments: the hooks of a run that ends without finishing."""

    on_crashed: list[Any]
    on_cancellation: list[Any]


RELEASE_HOOKS: FlowHooks = {
    "on_crashed": [release_claims],
    "on_cancellation": [release_claims],
}
