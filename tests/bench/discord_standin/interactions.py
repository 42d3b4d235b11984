"""Handles a test keeps for an interaction it started, to await the bot's responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .validation import ApiError

if TYPE_CHECKING:
    from .server import DiscordStandIn

# Interaction types.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Callback types.
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9


class StandInUsageError(AssertionError):
    """The test asked a user to do something a real Discord client would not let them do."""


@dataclass
class InteractionResponse:
    """One answer of the bot to an interaction.

    kind is "callback", "followup", "edit_original", "delete_original", "edit_followup" or
    "delete_followup"; type is the callback type for callbacks; message is the resulting message.
    """

    kind: str
    data: dict[str, Any]
    type: int | None = None
    message: dict[str, Any] | None = None


@dataclass
class InteractionHandle:
    """An interaction sent to the bot; await its responses with the methods below."""

    standin: DiscordStandIn
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    channel_id: int
    sent_at: float
    responses: list[InteractionResponse] = field(default_factory=list)
    rejected: list[ApiError] = field(default_factory=list)
    acknowledged: bool = False
    original_message_id: int | None = None
    original_loading: bool = False
    followup_ids: list[int] = field(default_factory=list)
    _cursor: int = 0

    async def callback(self, timeout: float = 5.0) -> InteractionResponse:
        """The initial callback (type 4, 5, 6, 7, 8 or 9) once the bot has sent it."""
        return await self.standin.recorder.wait_for(
            lambda: next((r for r in self.responses if r.kind == "callback"), None),
            timeout,
            f"the callback of interaction {self.id}",
        )

    async def next_response(self, timeout: float = 5.0) -> InteractionResponse:
        """The next response of any kind, in the order the bot sent them."""

        def check() -> InteractionResponse | None:
            if self._cursor < len(self.responses):
                self._cursor += 1
                return self.responses[self._cursor - 1]
            return None

        return await self.standin.recorder.wait_for(
            check, timeout, f"a response to interaction {self.id}"
        )

    async def followup(self, index: int = 0, timeout: float = 5.0) -> InteractionResponse:
        """The index-th followup message (counting a followup that filled a deferred reply)."""
        return await self.standin.recorder.wait_for(
            lambda: ([r for r in self.responses if r.kind == "followup"] + [None] * (index + 1))[
                index
            ],
            timeout,
            f"followup #{index} of interaction {self.id}",
        )

    async def reply(self, timeout: float = 5.0) -> dict[str, Any]:
        """The visible reply message: the original response once it is no longer 'thinking'."""

        def check() -> dict[str, Any] | None:
            if self.original_message_id is None or self.original_loading:
                return None
            return self.standin.messages.get(self.original_message_id) or self._ephemeral()

        return await self.standin.recorder.wait_for(
            check, timeout, f"the reply to interaction {self.id}"
        )

    def _ephemeral(self) -> dict[str, Any] | None:
        return self.standin.ephemeral_messages.get(self.original_message_id or 0)

    async def autocomplete_choices(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The choices the bot answered to an autocomplete interaction."""
        response = await self.callback(timeout)
        if response.type != AUTOCOMPLETE_RESULT:
            raise AssertionError(f"expected an autocomplete result, got callback {response.type}")
        return list(response.data.get("choices") or [])

    async def rejection(self, timeout: float = 5.0) -> ApiError:
        """The first error the stand-in answered to this interaction's callbacks."""
        return await self.standin.recorder.wait_for(
            lambda: self.rejected[0] if self.rejected else None,
            timeout,
            f"a rejected callback of interaction {self.id}",
        )
