"""The one-minute demo: Paperboy against local stand-ins for Discord and a news site, shown in a
web page that looks like a Discord client. Needs the source checkout (it reuses tests/bench)."""
