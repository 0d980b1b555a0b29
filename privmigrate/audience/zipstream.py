"""Streaming package files: zip parts capped in size, or one plain text file.

Memory stays bounded: text arrives in chunks and goes straight into the deflate stream.
Each part is written to a temporary sibling and renamed into place when complete (0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import zipfile
import zlib
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from privmigrate.workspace import atomic_path

# Headroom for what the deflate stream still buffers and the zip's own headers.
_ZIP_SLACK = 512 * 1024


@dataclass(frozen=True)
class PackageFile:
    """One file of a package, as the manifest lists it."""

    name: str
    bytes: int
    md5: str
    ids: int
    lines: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def file_md5(path: Path) -> str:
    """The MD5 platforms ask for as a file signature."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "md5").hexdigest()


def _set_deflate(stream: IO[bytes], level: int | None) -> None:
    # NOTE: hex text has no repeats worth finding, so Huffman-only deflate (level None) is
    # ~4x faster than zlib level 6 and ~10% smaller; base64 DmpData lines repeat every 210
    # characters, where level 1 is as fast and 20% smaller. zipfile has no option for the
    # deflate strategy, so the entry's compressor is swapped before anything is written to
    # it (any raw DEFLATE stream is valid in a zip entry); left alone if the attribute moves.
    if getattr(stream, "_compressor", None) is None:
        return
    if level is None:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 9, zlib.Z_HUFFMAN_ONLY)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    stream._compressor = compressor  # type: ignore[attr-defined]


class SplitZipWriter:
    """Text lines into ``<stem>-001.zip``, ``-002.zip``…, each zip at most ``max_bytes``.

    Every zip holds one ``.txt`` entry of whole lines; ``write`` must get whole lines.
    """

    def __init__(self, directory: Path, stem: str, max_bytes: int, when: datetime,
                 level: int | None = None) -> None:
        self.directory = directory
        self.level = level  # None: Huffman-only
        self.stem = stem
        self.max_bytes = max_bytes
        self.date_time = (max(when.year, 1980), when.month, when.day, when.hour, when.minute,
                          when.second)
        self.files: list[PackageFile] = []
        self._stack: contextlib.ExitStack | None = None
        self._raw: IO[bytes] | None = None
        self._entry: IO[bytes] | None = None
        self._path: Path | None = None
        self._ids = 0
        self._lines = 0

    def write(self, text: bytes, ids: int) -> None:
        lines = text.count(b"\n")
        if self._entry is not None and self._raw is not None and (
            self._raw.tell() + len(text) + _ZIP_SLACK > self.max_bytes
        ):
            self._finish_part()
        if self._entry is None:
            self._start_part()
        assert self._entry is not None
        self._entry.write(text)
        self._ids += ids
        self._lines += lines

    def close(self) -> list[PackageFile]:
        if self._entry is not None:
            self._finish_part()
        return self.files

    def abort(self) -> None:
        if self._stack is not None:
            with contextlib.suppress(Exception):
                self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)
            self._stack = None
            self._entry = None

    def _start_part(self) -> None:
        part = len(self.files) + 1
        name = f"{self.stem}-{part:03d}"
        self._path = self.directory / f"{name}.zip"
        stack = contextlib.ExitStack()
        tmp = stack.enter_context(atomic_path(self._path))
        self._raw = stack.enter_context(tmp.open("wb"))
        archive = stack.enter_context(zipfile.ZipFile(self._raw, "w", zipfile.ZIP_DEFLATED))
        info = zipfile.ZipInfo(f"{name}.txt", date_time=self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        self._entry = stack.enter_context(archive.open(info, "w"))
        _set_deflate(self._entry, self.level)
        self._stack = stack
        self._ids = 0
        self._lines = 0

    def _finish_part(self) -> None:
        assert self._stack is not None and self._path is not None
        self._stack.close()  # closes entry, zip and file, then renames into place
        self._stack = None
        self._entry = None
        size = self._path.stat().st_size
        if size > self.max_bytes:  # cannot happen with the slack above; never ship it
            raise RuntimeError(f"{self._path.name} is {size} bytes, over {self.max_bytes}")
        self.files.append(
            PackageFile(self._path.name, size, file_md5(self._path), self._ids, self._lines)
        )


class TextWriter:
    """Text lines into one plain ``<stem>.txt`` (for manual upload: 达摩盘)."""

    def __init__(self, directory: Path, stem: str) -> None:
        self._path = directory / f"{stem}.txt"
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(self._path))
        self._fh = self._stack.enter_context(tmp.open("wb"))
        self._ids = 0
        self._lines = 0

    def write(self, text: bytes, ids: int) -> None:
        self._fh.write(text)
        self._ids += ids
        self._lines += text.count(b"\n")

    def close(self) -> list[PackageFile]:
        self._stack.close()
        size = self._path.stat().st_size
        return [PackageFile(self._path.name, size, file_md5(self._path), self._ids, self._lines)]

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.__exit__(RuntimeError, RuntimeError("aborted"), None)
