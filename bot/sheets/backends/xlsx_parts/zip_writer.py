"""Writing the zip: a package with some parts replaced, every other part copied as its
compressed bytes (:func:`write_package`)."""

from __future__ import annotations

import struct
import zipfile
from io import BytesIO
from os import PathLike

from isal import isal_zlib

from bot.sheets.backends.xlsx_parts.package import Unsure

# The parts written here are deflated by ISA-L (Intel's library, through python-isal) at its
# level 1: on sheet XML about six times zlib's fastest level, for about as many bytes (measured
# in bench/README.md). Its output is plain raw deflate (RFC 1951), which every spreadsheet
# program inflates as it inflates zlib's.
COMPRESS_LEVEL = 1


class Parts:
    """A package read once: each part's entry and compressed bytes, ready to be copied, and its
    text on demand. A template copied into hundreds of workbooks is unzipped only once."""

    def __init__(self, data: bytes):
        with zipfile.ZipFile(BytesIO(data)) as src:
            self.entries = [_compressed(src, info) for info in src.infolist()]
            self._data = data
        self._texts: dict[str, bytes] = {}

    def read(self, name: str) -> bytes:
        if name not in self._texts:
            with zipfile.ZipFile(BytesIO(self._data)) as src:
                self._texts[name] = src.read(name)
        return self._texts[name]


def write_package(source, target, replaced: dict[str, bytes], dropped: frozenset = frozenset()) -> None:
    """``source`` (a file, an open ``ZipFile`` or :class:`Parts`) with the parts in ``replaced``
    rewritten and those in ``dropped`` left out; every other part is copied as its compressed
    bytes, in the same order."""
    if isinstance(source, Parts):
        _write(source.entries, target, replaced, dropped)
        return
    if isinstance(source, zipfile.ZipFile):
        _write((_compressed(source, info) for info in source.infolist()), target, replaced, dropped)
        return
    with zipfile.ZipFile(source) as src:
        write_package(src, target, replaced, dropped)


def _write(entries, target, replaced: dict[str, bytes], dropped: frozenset) -> None:
    # Built in memory and written at once: one write call for the file, not a few for each part.
    buffer = BytesIO() if isinstance(target, (str, PathLike)) else target
    with zipfile.ZipFile(buffer, "w") as dst:
        for info, data in entries:
            if info.filename in dropped:
                continue
            if info.filename in replaced:
                _append_compressed(dst, *_deflated(info, replaced[info.filename]))
            else:
                _append_compressed(dst, info, data)
    if buffer is not target:
        with open(target, "wb") as f:
            f.write(buffer.getbuffer())


def _deflated(info: zipfile.ZipInfo, text: bytes) -> tuple[zipfile.ZipInfo, bytes]:
    """A replaced part's entry and bytes, deflated here as ``ZipFile.writestr`` would deflate
    them (raw deflate, a 32 KiB window; APPNOTE 4.4.5), ISA-L's deflate in place of zlib's,
    without its header written twice."""
    fresh = zipfile.ZipInfo(info.filename, info.date_time)
    fresh.compress_type = zipfile.ZIP_DEFLATED
    fresh.external_attr = info.external_attr
    compressor = isal_zlib.compressobj(COMPRESS_LEVEL, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS)
    data = compressor.compress(text) + compressor.flush()
    fresh.CRC, fresh.file_size, fresh.compress_size = isal_zlib.crc32(text), len(text), len(data)
    return fresh, data


def _compressed(src: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[zipfile.ZipInfo, bytes]:
    """A part's entry and its bytes as stored (compressed), read without inflating them."""
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise Unsure("an encrypted or unusually compressed part")
    src.fp.seek(info.header_offset)
    header = src.fp.read(zipfile.sizeFileHeader)
    if header[:4] != zipfile.stringFileHeader:
        raise Unsure("a damaged local file header")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    src.fp.seek(info.header_offset + zipfile.sizeFileHeader + name_length + extra_length)
    return info, src.fp.read(info.compress_size)


def _append_compressed(dst: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes) -> None:
    copied = zipfile.ZipInfo(info.filename, info.date_time)
    for attribute in ("compress_type", "CRC", "compress_size", "file_size", "external_attr", "create_system"):
        setattr(copied, attribute, getattr(info, attribute))
    copied.header_offset = dst.fp.tell()
    dst.fp.write(copied.FileHeader())
    dst.fp.write(data)
    dst.filelist.append(copied)
    dst.NameToInfo[copied.filename] = copied
    dst.start_dir = dst.fp.tell()  # where the next part (or the central directory) goes
