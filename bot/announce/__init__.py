"""Announcements, part 1: what an announcement looks like and which items to announce.

Pure code: no Discord, no SQL, no I/O. `render_plan` turns an article and a subscription into a
`MessagePlan`; `policy` decides which new items to announce and when; `filters` and `tags`
apply moderators' rules. Import from the modules: nothing outside them uses a package-level name.
"""
