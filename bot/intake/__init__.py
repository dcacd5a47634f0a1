"""One intake for a unit's workbook, whichever way it comes back (web page, chat, e-mail,
command line): :func:`bot.intake.submit.submit`. Around it: the file checks done before
anything is stored (guard), the version store (versions), the value diff between versions
(diff), and the units' personal links to the portal (links)."""

from bot.intake.guard import IntakeRefused

__all__ = ["IntakeRefused"]
