"""`zoom-publisher`: the command line face of the flows. No business logic lives here.

Commands that need no Prefect API (`list`, `init-db`, `reset`, `trim`, `--help`) never import
Prefect: without a running server every process that touches it starts a temporary one.
"""

from __future__ import annotations

import os

import click

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect gives its temporary server 20 s to start; on a busy small server it takes longer.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from flows.cli.alerts import alerts
from flows.cli.housekeeping import clean, demo, free_zoom
from flows.cli.secrets import auth, credentials
from flows.cli.serve import serve
from flows.cli.stages import download, full_process, process, sync, trim, upload
from flows.cli.stopping import install_stop_handlers
from flows.cli.store import config_group, init_db, list_, reset
from flows.cli.webhook import webhook


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="zoom-publisher")
def main() -> None:
    """Publish Zoom cloud recordings to YouTube and VK, with silent starts and ends cut off."""
    install_stop_handlers()  # a stopped command takes its temporary Prefect server with it


for command in (
    init_db, list_, sync, download, process, trim, upload, full_process, reset, clean,
    free_zoom, config_group, credentials, auth, demo, webhook, serve, alerts,
):  # fmt: skip
    main.add_command(command)
