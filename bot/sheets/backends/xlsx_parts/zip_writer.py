"""Writing the zip: a package with some parts replaced, every other part copied as its
compressed bytes (:func:`write_package`)."""

from __future__ import annotations

import struct
import zipfile

from bot.sheets.backends.xlsx_parts.package import Unsure


def write_package(source, target, replaced: dict[str, bytes], dropped: frozenset = frozenset()) -> None:
    """``source`` with the parts in ``replaced`` rewritten and those in ``dropped`` left out;
    every other part is copied as its compressed bytes, in the same order."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            if info.filename in dropped:
                continue
            if info.filename in replaced:
                fresh = zipfile.ZipInfo(info.filename, info.date_time)
                fresh.compress_type = zipfile.ZIP_DEFLATED
                fresh.external_attr = info.external_attr
                dst.writestr(fresh, replaced[info.filename])
            else:
                _copy_compressed(src, info, dst)


def _copy_compressed(src: zipfile.ZipFile, info: zipfile.ZipInfo, dst: zipfile.ZipFile) -> None:
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise Unsure("an encrypted or unusually compressed part")
    src.fp.seek(info.header_offset)
    header = src.fp.read(zipfile.sizeFileHeader)
    if header[:4] != zipfile.stringFileHeader:
        raise Unsure("a damaged local file header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    src.fp.seek(info.header_offset + zipfile.sizeFileHeader + name_length + extra_length)
    data = src.fp.read(info.compress_size)
    copied = zipfile.ZipInfo(info.filename, info.date_time)
    for attribute in ("compress_type", "CRC", "compress_size", "file_size", "external_attr", "create_system"):
        setattr(copied, attribute, getattr(info, attribute))
    copied.header_offset = dst.fp.tell()
    dst.fp.write(copied.FileHeader())
    dst.fp.write(data)
    dst.filelist.append(copied)
    dst.NameToInfo[copied.filename] = copied
    dst.start_dir = dst.fp.tell()  # where the next part (or the central directory) goes
