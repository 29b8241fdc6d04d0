"""`zoom-publisher alerts setup|test|show`: where failure alerts go."""

from __future__ import annotations

import os
from typing import Any

import click

from flows.cli.common import UsageProblem, fail, friendly_errors, out

TEST_SUBJECT = "zoom-publisher: alerts are set up"
TEST_BODY = (
    "A test alert. From now on, a recording that fails and publishing that waits for quota for "
    "more than a day are reported here."
)


def send_test(block: Any, consequence: str = "") -> None:
    """Deliver the test alert, or stop (exit 1) saying why, naming no secret."""
    from flows.alerts import AlertNotSent, deliver

    try:
        deliver(block, TEST_SUBJECT, TEST_BODY)
    except AlertNotSent as exc:
        fail(f"the test alert was not delivered ({exc}){consequence}")


@click.group()
def alerts() -> None:
    """Failure alerts: a recording that FAILED, publishing that waits for quota over a day."""


@alerts.command("setup")
@click.option(
    "--webhook",
    metavar="URL",
    envvar="ALERT_WEBHOOK_URL",
    help="A Slack-compatible incoming webhook, or Telegram's "
    "https://api.telegram.org/bot<token>/sendMessage with --chat-id (or ALERT_WEBHOOK_URL).",
)
@click.option("--chat-id", help="Telegram: the chat the bot writes to.")
@click.option("--email", "recipients", multiple=True, metavar="ADDRESS", help="Send e-mail here.")
@click.option("--smtp-host", help="E-mail: the SMTP server.")
@click.option("--smtp-port", type=int, default=587, show_default=True, help="E-mail: its port.")
@click.option(
    "--smtp-security",
    type=click.Choice(["starttls", "ssl", "none"]),
    default="starttls",
    show_default=True,
    help="E-mail: how to connect (none: a local relay).",
)
@click.option("--smtp-user", help="E-mail: the SMTP login (password: SMTP_PASSWORD or a prompt).")
@click.option("--smtp-from", "sender", metavar="ADDRESS", help="E-mail: the sender address.")
@click.option("--block", "existing", metavar="TYPE/NAME", help="A notification block from the UI.")
@click.option("--no-test", is_flag=True, help="Store without sending a test alert first.")
@friendly_errors
def alerts_setup(
    webhook: str | None,
    chat_id: str | None,
    recipients: tuple[str, ...],
    smtp_host: str | None,
    smtp_port: int,
    smtp_security: str,
    smtp_user: str | None,
    sender: str | None,
    existing: str | None,
    no_test: bool,
) -> None:
    """Choose where alerts go: a webhook, Telegram, e-mail or any Prefect notification block.

    A test alert is sent first; nothing is stored unless it arrives. Secrets (the webhook URL,
    the SMTP password) are kept in a Prefect block and never printed.
    """
    from config import alert_blocks

    if sum(map(bool, (webhook, recipients, existing))) != 1:
        raise UsageProblem("choose one destination: --webhook, --email or --block")
    unsaved = "; nothing was stored"
    if existing:
        try:
            block = alert_blocks.notification_block(existing)
        except ValueError as exc:
            raise UsageProblem(f"--block: {exc}") from None
        if not no_test:
            send_test(block, unsaved)
        alert_blocks.point_to(existing)
        out.print(f"Alerts go to {alert_blocks.describe(block)} ({existing}).", highlight=False)
        return
    if webhook:
        if not webhook.startswith(("https://", "http://")):
            raise UsageProblem("--webhook: give the webhook's http(s):// URL")
        block = alert_blocks.webhook_block(webhook, chat_id)
    else:
        if not (smtp_host and sender):
            raise UsageProblem("--email needs --smtp-host and --smtp-from")
        password = None
        if smtp_user:
            password = os.environ.get("SMTP_PASSWORD") or click.prompt(
                "SMTP password", hide_input=True
            )
        block = alert_blocks.SmtpEmail(
            host=smtp_host,
            port=smtp_port,
            security=smtp_security,
            username=smtp_user,
            password=password,
            sender=sender,
            recipients=list(recipients),
        )
    if not no_test:
        send_test(block, unsaved)
    reference = alert_blocks.save_destination(block)
    out.print(f"Alerts go to {alert_blocks.describe(block)} (block {reference}).", highlight=False)
    if not no_test:
        out.print("A test alert was sent.")


@alerts.command("test")
@friendly_errors
def alerts_test() -> None:
    """Send a test alert to the configured destination."""
    from config.alert_blocks import describe
    from flows.alerts import destination

    configured = destination()
    if configured is None:
        fail("alerts are not set up: run `zoom-publisher alerts setup --help`", 2)
    send_test(configured[1])
    out.print(f"A test alert was sent to {describe(configured[1])}.", highlight=False)


@alerts.command("show")
@friendly_errors
def alerts_show() -> None:
    """Where alerts go (secrets never shown)."""
    from config.alert_blocks import describe
    from flows.alerts import destination

    configured = destination()
    if configured is None:
        out.print("Alerts are not set up: run `zoom-publisher alerts setup --help`.")
        return
    reference, block = configured
    out.print(f"Alerts go to {describe(block)} (block {reference}).", highlight=False)
