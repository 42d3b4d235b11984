"""The one error boundary for application commands.

Expected errors (`PaperboyError`) become a private, specific message; anything else is logged with
its traceback and the user gets a short apology with an error id to quote.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord
from discord import app_commands

from bot.errors import PaperboyError

log = logging.getLogger(__name__)


class PaperboyTree(app_commands.CommandTree[discord.Client]):
    """Command tree whose `on_error` answers every failure privately."""

    async def on_error(
        self, interaction: discord.Interaction[discord.Client], error: app_commands.AppCommandError
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        command = interaction.command.qualified_name if interaction.command else "?"
        app = getattr(self.client, "app", None)
        if app is not None:
            app.metrics.observe_command(command, ok=False)
        await answer_failure(interaction, cause, where=f"Command /{command}")


async def answer_failure(
    interaction: discord.Interaction[Any], cause: BaseException, *, where: str
) -> None:
    """The one answer to a failed interaction (commands, buttons, menus).

    Expected errors get their own sentence; anything else is logged with a traceback and the user
    gets an apology with an error id to quote.
    """
    if isinstance(cause, PaperboyError):
        message = str(cause)
    elif isinstance(cause, app_commands.CheckFailure):
        message = str(cause) or "You cannot use this command here."
    elif isinstance(cause, app_commands.TransformerError):
        message = f"That value is not valid: {cause.value!r}."
    else:
        error_id = secrets.token_hex(4)
        log.error("%s failed (error id %s)", where, error_id, exc_info=cause)
        message = f"Sorry, something went wrong on our side (error id `{error_id}`)."
    await reply_privately(interaction, message)


async def reply_privately(interaction: discord.Interaction[Any], message: str) -> None:
    """Answer by response or followup, whichever is still possible; never raise."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("Could not deliver an error message for interaction %s", interaction.id)
