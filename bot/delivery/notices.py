"""What moderators are told when delivery stops, in words they can act on."""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import DeliveryError
from bot.textutil import clean_text

REASON_LIMIT = 300


def pause_reason(error: DeliveryError) -> str:
    """The pause reason stored on a subscription (shown by /feeds status)."""
    if error.status == 403:
        prefix = "Discord refused Paperboy's post (missing permission)"
    elif error.status == 404:
        prefix = "The channel or webhook no longer exists"
    elif error.status == 400:
        prefix = "Discord rejected an announcement as invalid"
    else:
        prefix = "Discord refused an announcement"
    detail = clean_text(str(error), single_line=True).strip()
    text = f"{prefix}: {detail}" if detail else prefix
    return text[:REASON_LIMIT]


def paused_notice(channel_id: int, subscription_ids: Sequence[int], reason: str) -> str:
    """The one message moderators get when subscriptions are paused after a refusal."""
    numbers = ", ".join(f"#{number}" for number in subscription_ids)
    noun = "subscription" if len(subscription_ids) == 1 else "subscriptions"
    return (
        f"Paperboy paused announcements in <#{channel_id}> ({noun} {numbers}). {reason}. "
        "Fix the channel or Paperboy's permissions there, then resume with /feeds resume."
    )
