"""Package files exactly as each platform accepts them, streamed from binary digests.

| platform    | container                       | line                   | id types      |
|-------------|---------------------------------|------------------------|---------------|
| tencent     | zip of one .txt, ≤ 100 MB each  | lower-case hex         | md5, sha256   |
| oceanengine | zip of one .txt, ≤ 50 MB each   | base64(DmpData) ≤ 10k  | sha256        |
| qianchuan   | one zip of one .txt             | lower-case hex         | md5, sha256   |
| alimama     | plain .txt (manual upload)      | lower-case hex         | md5, sha256   |
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from privmigrate.audience.digests import hex_array, hex_lines
from privmigrate.audience.dmp import MAX_IDS_PER_LINE, MOBILE_HASH_SHA256, encode_lines
from privmigrate.audience.zipstream import PackageFile, SplitZipWriter, TextWriter
from privmigrate.errors import ConfigError
from privmigrate.workspace import private_dir

MB = 1_000_000
_HEX_CHUNK = 65_536  # ids per write: a few MB of text at a time
_DMP_LINES_PER_WRITE = 2


@dataclass(frozen=True)
class PlatformSpec:
    """What one platform accepts."""

    name: str
    label: str
    id_types: tuple[str, ...]
    container: str  # zip | txt
    max_zip_bytes: int | None  # None: one zip whatever its size (uploaded in parts)
    remote_id_types: dict[str, str]  # our id type -> the platform's name for it

    def remote_id_type(self, id_type: str) -> str:
        self.check_id_type(id_type)
        return self.remote_id_types[id_type]

    def check_id_type(self, id_type: str) -> None:
        if id_type not in self.id_types:
            raise ConfigError(
                f"{self.label} accepts phone ids as {' or '.join(self.id_types)} only, not "
                f"{id_type}; use --id-type {self.id_types[0]}"
            )


PLATFORMS: dict[str, PlatformSpec] = {
    "tencent": PlatformSpec(
        "tencent", "Tencent Ads (广点通)", ("md5", "sha256"), "zip", 100 * MB,
        {"md5": "HASH_MOBILE_PHONE", "sha256": "SHA256_MOBILE_PHONE"},
    ),
    "oceanengine": PlatformSpec(
        "oceanengine", "Ocean Engine DMP (巨量引擎)", ("sha256",), "zip", 50 * MB,
        {"sha256": "MOBILE_HASH_SHA256"},
    ),
    "qianchuan": PlatformSpec(
        "qianchuan", "巨量千川", ("md5", "sha256"), "zip", None, {"md5": "17", "sha256": "14"},
    ),
    "alimama": PlatformSpec(
        "alimama", "Alimama 达摩盘", ("md5", "sha256"), "txt", None,
        {"md5": "MD5", "sha256": "SHA256"},
    ),
}


def platform_spec(name: str) -> PlatformSpec:
    try:
        return PLATFORMS[name]
    except KeyError:
        raise ConfigError(
            f"unknown platform {name!r}; use one of {', '.join(PLATFORMS)}"
        ) from None


def write_package(
    platform: str,
    digests: np.ndarray,
    id_type: str,
    directory: Path,
    stem: str,
    when: datetime,
    *,
    max_zip_bytes: int | None = None,
) -> list[PackageFile]:
    """Write ``digests`` as ``platform``'s package files into ``directory``; list them.

    No ids, no files. ``max_zip_bytes`` overrides the platform's documented cap.
    """
    spec = platform_spec(platform)
    spec.check_id_type(id_type)
    if len(digests) == 0:
        return []
    private_dir(directory)
    if spec.container == "txt":
        writer: SplitZipWriter | TextWriter = TextWriter(directory, stem)
    else:
        cap = max_zip_bytes or spec.max_zip_bytes or 1 << 62
        level = 1 if platform == "oceanengine" else None
        writer = SplitZipWriter(directory, stem, cap, when, level)
    chunks = _dmp_chunks(digests) if platform == "oceanengine" else _hex_chunks(digests)
    try:
        _pipe(chunks, writer.write)
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def _hex_chunks(digests: np.ndarray) -> Iterator[tuple[bytes, int]]:
    for start in range(0, len(digests), _HEX_CHUNK):
        chunk = digests[start : start + _HEX_CHUNK]
        yield hex_lines(chunk), len(chunk)


def _dmp_chunks(digests: np.ndarray) -> Iterator[tuple[bytes, int]]:
    step = MAX_IDS_PER_LINE * _DMP_LINES_PER_WRITE
    for start in range(0, len(digests), step):
        chunk = digests[start : start + step]
        yield b"".join(encode_lines(hex_array(chunk), MOBILE_HASH_SHA256)), len(chunk)


def _pipe(chunks: Iterator[tuple[bytes, int]], write: Callable[[bytes, int], None]) -> None:
    """Make text in this thread while another compresses and writes (zlib releases the GIL).

    The queue holds a few chunks at most, so memory stays bounded.
    """
    pending: queue.Queue[tuple[bytes, int] | None] = queue.Queue(maxsize=3)
    failure: list[BaseException] = []

    def consume() -> None:
        while (item := pending.get()) is not None:
            if not failure:
                try:
                    write(*item)
                except BaseException as exc:  # handed to the producing thread
                    failure.append(exc)

    worker = threading.Thread(target=consume, name="audience-package-writer", daemon=True)
    worker.start()
    try:
        for item in chunks:
            if failure:
                break
            pending.put(item)
    finally:
        pending.put(None)
        worker.join()
    if failure:
        raise failure[0]
