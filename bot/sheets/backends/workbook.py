"""The embedded backend: a folder of ``.xlsx`` workbooks, written and read with openpyxl, and at
the level of the file's parts for the common operations (:mod:`.xlsx_parts`, openpyxl as fallback).

A workbook is ``<root>/<period>/<unit>.xlsx``. Writes go to a temporary file that replaces
the workbook in one rename, so a killed run never leaves half a workbook. A workbook that
Excel or LibreOffice has open (their lock files ``~$name.xlsx`` / ``.~lock.name.xlsx#``) is
not written: the write raises :class:`SheetBusy` and the caller retries on a later pass, so
nothing the unit is typing is overwritten by a save of ours.

A clerk may also save (from a program that leaves no lock file, or over a network share) while
we write. Just before the rename the file's identity (change time, size and SHA-256) is compared
with the one it had when the write loaded it; if it changed, the write is dropped
(:class:`SheetChanged`, retried after the next poll has read the clerk's save). What is left is
the instant between that comparison and the rename, which no file system closes without locks
that Excel and LibreOffice do not honour.

Writes run one after another in the calling process: a killed run leaves no worker behind
still writing. Temporary files carry the writer's process id (``.cchc-tmp-<pid>-…``); those of
a writer that is gone, or older than an hour, are removed at the start of each write pass.

Every text the bot writes into a cell goes through one guard (:func:`bot.sheets.values.is_formula_like`):
text that a spreadsheet would take for a formula is stored as text, with Excel's quote prefix.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
import time
import zipfile
from copy import copy
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import MergedCell
from openpyxl.packaging.custom import StringProperty
from openpyxl.worksheet.worksheet import Worksheet

from bot.clock import TZ
from bot.outline.layout import TabLayout, WorkbookLayout
from bot.sheets.backends import xlsx_parts
from bot.sheets.backends.base import (
    Backend,
    BackendError,
    Edit,
    Grids,
    ReplaceTab,
    SheetBusy,
    SheetMissing,
    SheetRef,
    SheetUnreadable,
    Written,
)
from bot.sheets.backends.workbook_render import MissingTab, _apply, build_workbook, render_tab

# Re-exported: xlsx_parts imports them from here.
from bot.sheets.backends.workbook_render import _data_validation as _data_validation
from bot.sheets.backends.workbook_render import _style_cell as _style_cell
from bot.sheets.backends.workbook_render import layout_tags as layout_tags
from bot.sheets.values import Text

LOCK_FILES = ("~${name}", ".~lock.{name}#")
TEMP_PREFIX = ".cchc-tmp-"
STALE_TEMP_SECONDS = 3600  # a temporary file this old is no write in progress, whoever made it
PARALLEL_FROM = 8  # batches this large were once written by a process pool; they now run in turn


class SheetChanged(SheetBusy):
    """The workbook was saved by someone else while we were writing it: our write is dropped."""


class WorkbookBackend(Backend):
    name = "workbook"

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._written: dict[str, Written] = {}

    # --- where things are -----------------------------------------------------------------

    def path_for(self, tags: dict[str, str]) -> Path:
        safe = lambda s: re.sub(r"[^A-Za-z0-9_.-]", "_", s)  # noqa: E731
        return self.root / safe(tags["period"]) / f"{safe(tags['unit'])}.xlsx"

    def _ref(self, path: Path) -> SheetRef:
        return SheetRef(id=str(path), url=path.resolve().as_uri())

    def find(self, tags):
        path = self.path_for(tags)
        return self._ref(path) if path.exists() else None

    def allocate(self, title, tags):
        path = self.path_for(tags)
        path.parent.mkdir(parents=True, exist_ok=True)
        return self._ref(path)

    def is_laid_out(self, ref):
        return Path(ref.id).exists()

    # --- creating ---------------------------------------------------------------------------

    def lay_out(self, ref, layout: WorkbookLayout):
        path = Path(ref.id)
        if path.exists():
            return  # never lay a template over a workbook a unit may have typed into
        # a unit's: a copy of the template of its kind with its own cells patched in; the
        # master's: its tabs rendered at part level; openpyxl's when either is not sure
        fast = xlsx_parts.from_template if layout.unit_kind else xlsx_parts.fresh_layout
        if _replace_atomically(path, lambda target: fast(layout, target), fast="lay_out") is not None:
            return
        _save_atomically(build_workbook(layout), path)

    # --- reading ----------------------------------------------------------------------------

    def read(self, ref) -> Grids:
        path = Path(ref.id)
        if not path.exists():
            raise SheetMissing(f"Không tìm thấy tệp {path.name}", ref=ref)
        grids = xlsx_parts.attempt("read", xlsx_parts.read_grids, path)
        return grids if grids is not None else read_with_openpyxl(path, ref)

    def tags_of(self, ref) -> dict[str, str] | None:
        try:
            return self.tags(ref.id)
        except SheetUnreadable:
            return None  # read() says what is wrong with the file

    def tags(self, path: str | Path) -> dict[str, str]:
        """The tags a workbook was provisioned with (to check a lone file offline)."""
        tags = xlsx_parts.attempt("read", xlsx_parts.read_tags, path)
        if tags is not None:
            return tags
        try:
            wb = load_workbook(path, read_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
            raise SheetUnreadable(f"Không mở được tệp {Path(path).name} ({type(e).__name__})") from None
        try:
            return {p.name: p.value for p in wb.custom_doc_props.props}
        finally:
            wb.close()

    def modified_times(self, refs):
        times = {}
        for ref in refs:
            try:
                times[ref.id] = datetime.fromtimestamp(os.stat(ref.id).st_mtime, TZ)
            except FileNotFoundError:
                times[ref.id] = None
        return times

    # --- writing ----------------------------------------------------------------------------

    def write(self, ref, edits: list[Edit]) -> Written:
        path = Path(ref.id)
        if not path.exists():
            raise SheetMissing(f"Không tìm thấy tệp {path.name}", ref=ref)
        if self._held_open(path):
            raise SheetBusy(
                f"Tệp {path.name} đang được mở trong một chương trình khác; sẽ ghi lại sau", ref=ref
            )
        loaded, content = _read_with_identity(path)
        whole = self._replaces_every_tab(path, edits)
        after = _write_parts(path, edits, self.tags(path) if whole else None, loaded, ref, content)
        if after is not None:
            return Written(_moment(loaded[0]), _moment(after))
        try:
            if whole:
                wb = self._rebuilt(path, [e.tab for e in edits])
            else:
                wb = load_for_edit(path)
                for edit in edits:
                    _apply(wb, edit)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
            raise SheetUnreadable(f"Không mở được tệp {path.name} ({type(e).__name__})", ref=ref) from None
        except MissingTab as e:
            raise SheetUnreadable(
                f"Tệp {path.name} không còn trang '{e}' (trang đã bị đổi tên hoặc bị xóa); "
                "chưa ghi được kết quả kiểm tra",
                ref=ref,
            ) from None
        after = _save_atomically(wb, path, unchanged_since=loaded, ref=ref)
        return Written(_moment(loaded[0]), _moment(after))

    def write_many(self, batch):
        """One write after another, in this process (see the module's note); in each folder,
        first the temporary files that killed writes left behind are removed."""
        self._written = {}
        failed: dict[str, BackendError | None] = {}
        swept = set()
        for ref, edits in batch:
            folder = Path(ref.id).parent
            if folder not in swept:
                sweep_stale_temp_files(folder)
                swept.add(folder)
            try:
                self._written[ref.id] = self.write(ref, edits)
                failed[ref.id] = None
            except BackendError as e:
                failed[ref.id] = e
        return failed

    def written(self) -> dict[str, Written]:
        return dict(self._written)

    def _replaces_every_tab(self, path: Path, edits: list[Edit]) -> bool:
        """A program-owned workbook (the master sheet) rewritten whole: no need to load it."""
        if not edits or not all(isinstance(e, ReplaceTab) for e in edits):
            return False
        names = xlsx_parts.attempt("sheet names", xlsx_parts.read_sheet_names, path)
        if names is None:
            wb = load_workbook(path, read_only=True)
            try:
                names = wb.sheetnames
            finally:
                wb.close()
        return set(names) <= {e.tab.name for e in edits}

    def _rebuilt(self, path: Path, tabs: list[TabLayout]) -> Workbook:
        tags = self.tags(path)
        wb = Workbook()
        wb.remove(wb.active)
        for tab in tabs:
            render_tab(wb.create_sheet(tab.name), tab)
        for key, value in tags.items():
            wb.custom_doc_props.append(StringProperty(name=key, value=value))
        return wb

    def _held_open(self, path: Path) -> bool:
        return any((path.parent / pattern.format(name=path.name)).exists() for pattern in LOCK_FILES)


def _identity(path: Path) -> tuple[float, int, str]:
    """Change time, size and content hash: what "the file is unchanged" means here."""
    st = os.stat(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return st.st_mtime, st.st_size, digest.hexdigest()


def _read_with_identity(path: Path) -> tuple[tuple[float, int, str], bytes]:
    """The file's :func:`_identity` and its bytes, from one read (a workbook to be edited is
    read whole anyway, and its parts are then taken from memory)."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        content = f.read()
    return (st.st_mtime, st.st_size, hashlib.sha256(content).hexdigest()), content


def _moment(mtime: float) -> datetime:
    return datetime.fromtimestamp(mtime, TZ)  # as modified_times() gives it


def sweep_stale_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files of writes that were killed: their process is gone, or they
    are older than any write takes. Returns what was removed."""
    removed = []
    for tmp in folder.glob(f"{TEMP_PREFIX}*"):
        pid = tmp.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        try:
            old = time.time() - tmp.stat().st_mtime > STALE_TEMP_SECONDS
            if old or not (pid.isdigit() and _alive(int(pid))):
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:
            continue  # its writer finished (renamed or removed it) meanwhile
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def read_with_openpyxl(path: Path, ref: SheetRef | None = None) -> Grids:
    """The reference reader (and the fallback of :func:`xlsx_parts.read_grids`)."""
    try:
        wb = load_workbook(path, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise SheetUnreadable(
            f"Không mở được tệp {path.name}: tệp hỏng hoặc không phải bảng tính Excel ({type(e).__name__})",
            ref=ref,
        ) from None
    try:
        return {ws.title: [[_as_typed(c) for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}
    finally:
        wb.close()


def _as_typed(cell):
    """What the clerk typed. Excel turns "45,5%" typed in a number cell into 0.455 shown as a
    percentage; the project keeps percentages on 0–100, so such a cell reads as 45.5. Text that
    begins with "=" (typed '=…) stays text."""
    value = cell.value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and "%" in (cell.number_format or ""):
        return round(value * 100, 10)
    if isinstance(value, str) and value.startswith("=") and cell.data_type == "s":
        return Text(value)  # typed as '=… : text, not a formula
    return value


def load_for_edit(path: str | Path) -> Workbook:
    """Open a workbook to change and save it, keeping every merged cell's own style.

    openpyxl 3.1's loader rebuilds the borders of each merged range cell by cell
    (``Worksheet._clean_merge_range`` → ``MergedCellRange.format``), which is most of the time
    spent opening our templates. The cells covered by a merge already carry their style in the
    file, so for the duration of this load they keep it instead.
    """
    original = Worksheet._clean_merge_range
    Worksheet._clean_merge_range = _keep_covered_styles
    try:
        return load_workbook(path)
    finally:
        Worksheet._clean_merge_range = original


def _keep_covered_styles(ws, merged_range) -> None:
    cells = merged_range.cells
    next(cells)  # the top-left cell stays as it is
    for row, col in cells:
        covered = ws._cells.get((row, col))
        merged = MergedCell(ws, row, col)
        if covered is not None and covered.has_style:
            merged._style = copy(covered._style)
        ws._cells[row, col] = merged


def _write_parts(
    path: Path, edits: list[Edit], tags: dict | None, loaded: tuple, ref, content: bytes
) -> float | None:
    """The part-level write (:mod:`.xlsx_parts`): the whole workbook rewritten when ``tags`` is given
    (a program-owned master), else the edits patched into ``content`` (the file as it was
    loaded); None when it is not sure of the file."""
    if tags is not None:
        tabs = [e.tab for e in edits]
        write, fast = (lambda target: xlsx_parts.fresh_workbook(tabs, tags, target)), "rewrite"
    else:
        write, fast = (lambda target: xlsx_parts.apply_edits(path, target, edits, content=content)), "write"
    return _replace_atomically(path, write, unchanged_since=loaded, ref=ref, fast=fast)


def _save_atomically(wb: Workbook, path: Path, unchanged_since: tuple | None = None, ref=None) -> float:
    return _replace_atomically(path, wb.save, unchanged_since=unchanged_since, ref=ref)


def _replace_atomically(
    path: Path, write, *, unchanged_since: tuple | None = None, ref=None, fast: str | None = None
) -> float | None:
    """``write(temporary path)``, then the temporary file replaces ``path`` in one rename; the change
    time it was saved with. With ``unchanged_since``, the rename happens only if ``path`` still has
    that identity (else :class:`SheetChanged`). A ``fast`` (part-level) write that fails gives None
    and leaves ``path`` alone: the caller takes the openpyxl path (counted in ``xlsx_parts.FALLBACKS``)."""
    tmp, replaced = _temporary_path(path), False
    try:
        if fast is None:
            write(tmp)
        elif xlsx_parts.attempt(fast, lambda target: write(target) or True, tmp) is None:
            return None
        written = os.stat(tmp).st_mtime  # a rename keeps it
        if unchanged_since is not None and path.exists() and _identity(path) != unchanged_since:
            raise SheetChanged(
                f"Tệp {path.name} vừa được lưu trong lúc hệ thống ghi kết quả kiểm tra; "
                "sẽ đọc lại tệp và ghi lại sau",
                ref=ref,
            )
        os.replace(tmp, path)
        replaced = True
        return written
    finally:
        if not replaced:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


_TEMP_NUMBERS = itertools.count()  # thread-safe: next() on a count holds the GIL


def _temporary_path(path: Path) -> str:
    """A name beside ``path`` that no one else uses (this process's id, a number it has not
    given before), for the writer to create. It is not made beforehand, as ``mkstemp`` would:
    the writer would then truncate it, and ext4 (``auto_da_alloc``, ext4(5)) starts writing a
    file truncated to nothing out to disk as it is closed."""
    return str(path.parent / f"{TEMP_PREFIX}{os.getpid()}-{next(_TEMP_NUMBERS)}.tmp")
