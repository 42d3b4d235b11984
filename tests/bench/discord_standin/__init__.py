"""A local Discord stand-in (REST + gateway) that the real discord.py client talks to in tests."""

from .faults import Faults, RestFault
from .interactions import InteractionHandle, InteractionResponse, StandInUsageError
from .recorder import RecordedRequest, Recorder
from .server import DiscordStandIn, Seed
from .state import Channel, ForumTag, Guild, Member, Overwrite, Perm, Role, User
from .validation import ApiError

__all__ = [
    "ApiError",
    "Channel",
    "DiscordStandIn",
    "Faults",
    "ForumTag",
    "Guild",
    "InteractionHandle",
    "InteractionResponse",
    "Member",
    "Overwrite",
    "Perm",
    "RecordedRequest",
    "Recorder",
    "RestFault",
    "Role",
    "Seed",
    "StandInUsageError",
    "User",
]
