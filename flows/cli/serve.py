"""`zoom-publisher serve`: prefect.yaml's deployments served by this process (one machine)."""

from __future__ import annotations

from pathlib import Path

import click

from flows.cli.common import fail, friendly_errors

START_SERVER = (
    "start one with `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api "
    "(`prefect config set PREFECT_API_URL=...`)"
)


def api_problem() -> str | None:
    """Why serving cannot start against the configured Prefect API, or None."""
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        return (
            "serve needs a Prefect server that outlives it (PREFECT_API_URL is not set, and a "
            f"temporary server would vanish with this process): {START_SERVER}"
        )
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
    if error is not None:
        return f"the Prefect API at {url} does not answer ({type(error).__name__}): {START_SERVER}"
    return None


@click.command()
@click.option(
    "--file",
    "project_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The prefect.yaml to serve (default: the project's own).",
)
@friendly_errors
def serve(project_file: Path | None) -> None:
    """Run the deployments of prefect.yaml here: their schedules, and the runs started from the
    UI or `prefect deployment run`, with no work pool or worker. Stop with Ctrl-C or SIGTERM."""
    if problem := api_problem():
        fail(problem, 2)
    from flows.serving import PROJECT_FILE, serve_project

    serve_project(project_file or PROJECT_FILE)
