"""The spreadsheet backend interface, shaped after Google Sheets' batch API.

Each method is one round trip on Google Sheets, whatever the size of the outline:
``allocate`` creates an empty spreadsheet (so its id can be recorded before anything else
is written), ``lay_out`` renders a whole :class:`~bot.outline.layout.WorkbookLayout` in one go,
``read`` returns every tab's grid in one call, ``write`` applies many edits in one call, and
``modified_times`` lists the change time of many spreadsheets at once.

Backends raise :class:`BackendError` subclasses; ``retryable`` says whether the same call may
succeed later (a workbook open in another program, a quota error), so callers keep the work
for the next pass instead of losing it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot.outline.layout import CellSpec, TabLayout, WorkbookLayout

Grids = dict[str, list[list[object]]]  # tab name → rows of raw cell values; formulas as "=…"


@dataclass(frozen=True)
class SheetRef:
    id: str  # the backend's own id: a file path for workbooks, a spreadsheet id for Google
    url: str  # where a person opens it


class BackendError(Exception):
    retryable = False

    def __init__(self, message: str, *, ref: SheetRef | None = None):
        super().__init__(message)
        self.ref = ref


class BackendStopped(Exception):
    """The backend cannot work for anybody (its credentials were rejected): the whole run
    stops with this one message instead of failing again for every unit. Deliberately not a
    :class:`BackendError`, which callers handle per spreadsheet and go on."""

    def user_message(self) -> str:
        return str(self)


class SheetMissing(BackendError):
    """The spreadsheet is gone (deleted or moved)."""


class SheetUnreadable(BackendError):
    """The spreadsheet exists but cannot be opened (corrupt, not a workbook)."""


@dataclass(frozen=True)
class Written:
    """One write that went through: the spreadsheet's change time when the write loaded it and
    the one the write itself left. A poll mark may move from ``before`` to ``after`` only: a save
    by the unit on either side of the write then still reads as a change."""

    before: datetime | None
    after: datetime | None


class SheetBusy(BackendError):
    """Another program holds the spreadsheet, or the service asked us to slow down: try later."""

    retryable = True


@dataclass(frozen=True)
class SetCells:
    """Write values (never formats) into cells of an existing tab."""

    tab: str
    cells: dict[tuple[int, int], object]  # (row, col) → value


@dataclass(frozen=True)
class ReplaceTab:
    """Replace a program-owned tab (the "Kiểm tra" tab) with a freshly laid-out one."""

    tab: TabLayout


@dataclass(frozen=True)
class Protect:
    """Lock every cell for the unit (approved report) or only the template (``whole=False``)."""

    whole: bool
    input_cells: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # tab → cells to unlock


Edit = SetCells | ReplaceTab | Protect


class Backend(ABC):
    name: str

    @abstractmethod
    def allocate(self, title: str, tags: dict[str, str]) -> SheetRef:
        """Create an empty spreadsheet tagged with ``tags`` (unit, period, schema version)."""

    @abstractmethod
    def find(self, tags: dict[str, str]) -> SheetRef | None:
        """The spreadsheet tagged with ``tags``, if one exists (to resume a killed run)."""

    @abstractmethod
    def is_laid_out(self, ref: SheetRef) -> bool:
        """Whether the template is already in place (so laying out again would lose nothing)."""

    @abstractmethod
    def lay_out(self, ref: SheetRef, layout: WorkbookLayout) -> None:
        """Render the whole layout into the (empty) spreadsheet."""

    @abstractmethod
    def read(self, ref: SheetRef) -> Grids:
        """Every tab's cells in one call."""

    @abstractmethod
    def write(self, ref: SheetRef, edits: list[Edit]) -> None:
        """Apply all ``edits`` in one call."""

    @abstractmethod
    def modified_times(self, refs: list[SheetRef]) -> dict[str, datetime | None]:
        """Last change time of each spreadsheet (by ref id), from one listing where possible."""

    def tags_of(self, ref: SheetRef) -> dict[str, str] | None:
        """The tags the spreadsheet itself carries (unit, period), or None when the backend
        cannot tell; callers compare them with the ones expected."""
        return None

    def written(self) -> dict[str, Written]:
        """By ref id, what the last ``write_many`` knows of each spreadsheet it wrote; empty
        when the backend cannot tell (callers then list change times around the writes)."""
        return {}

    def write_many(self, batch: Iterable[tuple[SheetRef, list[Edit]]]) -> dict[str, BackendError | None]:
        """Apply each spreadsheet's edits (one ``write`` each); what failed, by ref id, without
        stopping the others. ``batch`` is taken one pair at a time, so a caller may build each
        spreadsheet's edits as its turn comes. Backends that can do them side by side override this."""
        failed: dict[str, BackendError | None] = {}
        for ref, edits in batch:
            try:
                self.write(ref, edits)
                failed[ref.id] = None
            except BackendError as e:
                failed[ref.id] = e
        return failed


def field_edits(layout: WorkbookLayout, values: dict) -> list[SetCells]:
    """``values`` (field key → value) as the edits that write them, one per tab."""
    cells: dict[str, dict[tuple[int, int], object]] = {}
    for key, value in values.items():
        spec = layout.fields[key]
        cells.setdefault(spec.tab, {})[(spec.row, spec.col)] = value
    return [SetCells(tab, typed) for tab, typed in cells.items()]


def input_cells(layout: WorkbookLayout) -> dict[str, list[tuple[int, int]]]:
    """The cells a unit may edit, per tab, as the layout marks them."""
    cells: dict[str, list[tuple[int, int]]] = {}
    for tab in layout.tabs:
        cells[tab.name] = [pos for pos, spec in tab.cells.items() if spec.input]
    return cells


__all__ = [
    "Backend",
    "BackendError",
    "BackendStopped",
    "CellSpec",
    "Edit",
    "field_edits",
    "Grids",
    "Protect",
    "ReplaceTab",
    "SetCells",
    "SheetBusy",
    "SheetMissing",
    "SheetRef",
    "SheetUnreadable",
    "Written",
    "input_cells",
]
