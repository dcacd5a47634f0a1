"""Addresses a unit's spreadsheet could not be shared with, kept until fixed.

The Google backend reports what Drive refused on each share (``GoogleBackend.refused``); the
store keeps it (``sharing_problems``), ``provision`` shares again on its next run, and
``status``, ``check`` and the coordinator's digest list what is still unshared.
"""

from __future__ import annotations

MAX_IN_DIGEST = 10


def record_sharing(ctx, unit: str, period: str, ref) -> None:
    """Keep what the last share of ``ref`` refused (nothing when no share happened)."""
    refused = getattr(ctx.backend, "refused", {}).get(ref.id)
    if refused is not None:
        ctx.store.set_sharing_problems(unit, period, refused)


def share_again(ctx, unit: str, period: str, ref) -> None:
    """Try the addresses refused last time once more (already shared ones cost nothing)."""
    share = getattr(ctx.backend, "share", None)
    if share is None or not ctx.store.sharing_problems(period, unit):
        return
    emails = ctx.backend.unit_emails(unit)
    share(ref, [*emails, *ctx.backend.coordinator_emails], notify=emails)
    record_sharing(ctx, unit, period, ref)


def sharing_lines(store, period: str | None = None) -> list[str]:
    """One Vietnamese line per address still unshared."""
    return [f"{row['unit']}: {row['problem']}" for row in store.sharing_problems(period)]


def sharing_text(store, period: str) -> str:
    """The digest's paragraph on unshared spreadsheets ("" when there is none)."""
    lines = sharing_lines(store, period)
    if not lines:
        return ""
    more = len(lines) - MAX_IN_DIGEST
    return (
        f"\nChưa chia sẻ được bảng tính tới {len(lines)} địa chỉ, đề nghị kiểm tra: "
        + "; ".join(lines[:MAX_IN_DIGEST])
        + (f" và {more} địa chỉ khác" if more > 0 else "")
    )
