"""Where failure alerts go: a Prefect notification block, chosen once by `alerts setup`.

The destination is any Prefect notification block; the Prefect Variable
`zoom-publisher-alert-block` names it (`block-type/name`, no secret in it). `alerts setup` makes
one of these:

- a Slack-compatible webhook (Slack, Mattermost, Rocket.Chat, Discord's `/slack` URL, any
  receiver of `{"text": ...}`) or Telegram's Bot API (`{"chat_id": ..., "text": ...}` to
  `https://api.telegram.org/bot<token>/sendMessage`): Prefect's Custom Webhook block, the URL kept
  in its secret values, never in a plain field;
- e-mail through an SMTP server: the `SmtpEmail` block below (Prefect has none for SMTP).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any, Literal
from urllib.parse import urlsplit

from prefect.blocks.abstract import NotificationBlock
from prefect.blocks.core import Block
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.types import SecretDict
from prefect.utilities.templating import apply_values
from pydantic import BaseModel, Field, SecretStr

ALERT_BLOCK_NAME = "zoom-publisher-alerts"
ALERT_BLOCK_VARIABLE = "zoom-publisher-alert-block"
# The longest alert text: Telegram refuses messages over 4,096 characters.
MAX_TEXT = 3500


class SmtpEmail(NotificationBlock):
    """Alerts by e-mail through an SMTP server."""

    _block_type_name = "SMTP Email"
    _block_type_slug = "smtp-email"
    _description = "Sends notifications by e-mail through an SMTP server (zoom-publisher)."

    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls (port 587), ssl (465) or none (a local relay)"
    )
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    recipients: list[str]
    timeout: float = 30

    def notify(self, body: str, subject: str | None = None) -> None:  # type: ignore[override]
        """Send one e-mail to every recipient (SMTP errors are raised)."""
        message = EmailMessage()
        message["Subject"] = subject or "zoom-publisher"
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(body)
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                password = self.password.get_secret_value() if self.password else ""
                smtp.login(self.username, password)
            smtp.send_message(message)


def webhook_block(url: str, chat_id: str | None = None) -> CustomWebhookNotificationBlock:
    """A Slack-compatible webhook, or with `chat_id` Telegram's sendMessage; the URL is secret."""
    payload: dict[str, Any] = {"text": "{{subject}}\n\n{{body}}"}
    if chat_id is not None:
        payload = {"chat_id": chat_id, **payload}
    return CustomWebhookNotificationBlock(
        name="zoom-publisher alerts",
        url="{{webhook_url}}",
        json_data=payload,
        secrets=SecretDict({"webhook_url": url}),
    )


def save_destination(block: NotificationBlock) -> str:
    """Store `block` and make it the alerts' destination; returns its `type/name`."""
    block.save(ALERT_BLOCK_NAME, overwrite=True)
    reference = f"{block.get_block_type_slug()}/{ALERT_BLOCK_NAME}"
    point_to(reference)
    return reference


def notification_block(reference: str) -> NotificationBlock:
    """The stored block `type/name`; ValueError when there is none or it cannot notify."""
    block = Block.load(reference)
    if not isinstance(block, NotificationBlock):
        raise ValueError(f"{reference} is not a notification block")
    return block


def point_to(reference: str) -> None:
    """Make the stored block `type/name` the alerts' destination."""
    from prefect.variables import Variable

    Variable.set(ALERT_BLOCK_VARIABLE, reference, overwrite=True)


def destination_reference() -> str | None:
    """`type/name` of the configured destination, or None when alerts are not set up."""
    from prefect.variables import Variable

    return Variable.get(ALERT_BLOCK_VARIABLE, default=None)


def describe(block: NotificationBlock) -> str:
    """Where `block` sends, with nothing secret: a webhook's host only, never its path."""
    if isinstance(block, CustomWebhookNotificationBlock):
        host = urlsplit(apply_values(block.url, block.secrets.get_secret_value())).hostname
        chat = (block.json_data or {}).get("chat_id")
        return f"Telegram chat {chat} through {host}" if chat else f"webhook at {host or '?'}"
    if isinstance(block, SmtpEmail):
        return (
            f"e-mail to {', '.join(block.recipients)} through {block.host}:{block.port} "
            f"({block.security})"
        )
    return f"{block.get_block_type_name()} block"


def secret_values(value: Any) -> list[str]:
    """Every secret string a block holds (to keep them out of any message)."""
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, SecretDict):
        return _strings(value.get_secret_value())
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in secret_values(getattr(value, name))]
    return []


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [str(value)] if value not in (None, "") else []
