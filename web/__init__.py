"""The web portal: a unit's page behind its personal link, and the coordinators' pages.

Server-rendered Vietnamese HTML (Jinja2, autoescaped) that works without JavaScript, served
by uvicorn. It holds no reporting logic of its own: every page reads the store, and every
action calls the library (``bot.intake``, ``jobs.approve``, ``jobs.compile``, ``bot.export``,
``bot.outbox``), the same calls the command line makes.
"""
