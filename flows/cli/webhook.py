"""`zoom-publisher webhook`: serve Zoom's `recording.completed` events.

The web stack (FastAPI, uvicorn) and Prefect are imported only when the command runs, so that
`--help` and the other commands stay fast.
"""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="TCP port."
)
def webhook(host: str, port: int) -> None:
    """Serve Zoom's webhook: store each finished recording and start its pipeline at once.

    Listens on POST /zoom/webhook (and GET /healthz). Every request must carry a valid,
    fresh Zoom signature; the `endpoint.url_validation` challenge is answered. Each
    `recording.completed` is stored like a sync would store it; for a configured Zoom
    account the full pipeline starts for it: a run of the deployment WEBHOOK_DEPLOYMENT
    (full-pipeline/on-demand) when PREFECT_API_URL is set, otherwise in this process.

    It needs no credentials to start: recordings of a Zoom account not imported yet wait,
    and the first run after `zoom-publisher credentials import --zoom FILE` downloads them.

    The secret token is ZOOM_WEBHOOK_SECRET_TOKEN, else the Prefect Secret block
    `zoom-webhook-secret-token`. Zoom needs a public HTTPS URL: put this behind a reverse
    proxy or tunnel and subscribe the app to "All Recordings have completed".

    A lost event loses no recording: the scheduled sync (the `hourly` deployment) still
    stores it within the hour, and the scheduled `nightly` run publishes it.
    """
    from flows.cli.common import friendly_errors, reads_app_config

    friendly_errors(reads_app_config(_serve))(host, port)  # its in-process runs read it


def _serve(host: str, port: int) -> None:
    from config.errors import CredentialsMissingError
    from config.secrets import webhook_secret_token, zoom_account_names
    from config.settings import get_settings
    from flows.cli.common import out
    from flows.webhook_runs import RecordingCompletedHandler, prefect_server_configured
    from integrations.store.database import upgrade_to_head
    from integrations.webhook.app import create_app, serve

    settings = get_settings()
    secret = webhook_secret_token(settings)
    upgrade_to_head(settings.resolved_database_url)  # events are stored from the first one on
    try:
        accounts = len(zoom_account_names())
    except CredentialsMissingError:
        accounts = 0
    runs = (
        f"runs of {settings.webhook_deployment}"
        if prefect_server_configured()
        else "pipeline runs in this process (no PREFECT_API_URL)"
    )
    out.print(
        f"Zoom webhook on http://{host}:{port}/zoom/webhook for {accounts} Zoom "
        f"account(s); recordings start {runs}. Ctrl+C stops it.",
        highlight=False,
    )
    if not accounts:
        out.print(
            "No Zoom account is configured yet: Zoom's URL validation is answered and "
            "recordings are stored, and they wait until `zoom-publisher credentials import "
            "--zoom FILE`; the next run after it picks them up.",
            highlight=False,
        )
    serve(create_app(secret, RecordingCompletedHandler(settings=settings)), host, port)
