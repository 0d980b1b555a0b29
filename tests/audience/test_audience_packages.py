"""Package files byte for byte, decoded by independent readers (zipfile, a hand-written
protobuf wire decoder, and protobuf itself)."""

from __future__ import annotations

import base64
import hashlib
import stat
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from privmigrate.audience import dmp_pb2
from privmigrate.audience.digests import hash_phones, hex_array
from privmigrate.audience.dmp import encode_lines, encode_message
from privmigrate.audience.packages import write_package
from privmigrate.errors import ConfigError
from tests.audience.world import REF_PHONE, REF_SHA256, rows
from tests.fakes.oceanengine import decode_dmp_data, dmp_zip_ids

WHEN = datetime(2026, 11, 25, 3, 0)
# ../shared/reference/ad-platforms.md §2.4
REF_DMP_LINE = ("CkQQBhpAYTY5NDJmOTc3MWQ2N2YzNDAzNGQyZjE5MjY5ODhlZDNmYWQzYmYxYjRlN2NlZGI5YT"
                "MxZjMxMzk4ZGVhNDNiYw==")


def phones(n: int, start: int = 0) -> list[str]:
    return [str(13800000000 + start + i) for i in range(n)]


def test_dmp_reference_vector() -> None:
    d = hash_phones(rows([REF_PHONE]), "sha256")
    assert list(encode_lines(hex_array(d))) == [REF_DMP_LINE.encode() + b"\n"]
    assert base64.b64decode(REF_DMP_LINE) == encode_message([REF_SHA256])


def test_dmp_lines_equal_protobuf_and_decode_independently() -> None:
    ps = phones(23_456)
    hexes = [hashlib.sha256(p.encode()).hexdigest() for p in ps]
    lines = list(encode_lines(hex_array(hash_phones(rows(ps), "sha256"))))
    assert len(lines) == 3  # 10,000 + 10,000 + 3,456
    for i, line in enumerate(lines):
        raw = base64.b64decode(line.rstrip(b"\n"), validate=True)
        chunk = hexes[i * 10_000 : (i + 1) * 10_000]
        assert raw == encode_message(chunk)
        assert [item["id"] for item in decode_dmp_data(raw)] == chunk
        parsed = dmp_pb2.DmpData()
        parsed.ParseFromString(raw)
        assert {item.dataType for item in parsed.idList} == {6}


def test_tencent_package_byte_for_byte(tmp_path: Path) -> None:
    ps = phones(1000)
    d = hash_phones(rows(ps), "md5")
    files = write_package("tencent", d, "md5", tmp_path, "lapsed", WHEN)
    assert [f.name for f in files] == ["lapsed-001.zip"]
    path = tmp_path / "lapsed-001.zip"
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["lapsed-001.txt"]
        text = archive.read("lapsed-001.txt")
    assert text == "".join(hashlib.md5(p.encode()).hexdigest() + "\n" for p in ps).encode()
    assert files[0].md5 == hashlib.md5(path.read_bytes()).hexdigest()
    assert files[0].bytes == path.stat().st_size and files[0].ids == files[0].lines == 1000
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_zip_parts_respect_the_cap(tmp_path: Path) -> None:
    d = hash_phones(rows(phones(200_000)), "sha256")
    cap = 3_000_000
    files = write_package("oceanengine", d, "sha256", tmp_path, "big", WHEN, max_zip_bytes=cap)
    assert len(files) > 1 and all(f.bytes <= cap for f in files)
    seen: list[str] = []
    for f in files:
        ids, lines = dmp_zip_ids((tmp_path / f.name).read_bytes())
        assert len(ids) == f.ids and lines == f.lines
        seen += ids
    assert seen == [x.tobytes().hex() for x in d]


def test_qianchuan_is_one_zip_and_alimama_plain_text(tmp_path: Path) -> None:
    d = hash_phones(rows(phones(50)), "sha256")
    q = write_package("qianchuan", d, "sha256", tmp_path / "q", "qc", WHEN)
    assert len(q) == 1 and q[0].name.endswith(".zip")
    a = write_package("alimama", d, "sha256", tmp_path / "a", "ali", WHEN)
    text = (tmp_path / "a" / "ali.txt").read_text()
    assert text.splitlines() == [x.tobytes().hex() for x in d] and a[0].lines == 50


def test_no_ids_no_files(tmp_path: Path) -> None:
    assert write_package("tencent", np.empty((0, 16), np.uint8), "md5", tmp_path, "x",
                         WHEN) == []


def test_ocean_engine_takes_sha256_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sha256"):
        write_package("oceanengine", hash_phones(rows(phones(2)), "md5"), "md5", tmp_path,
                      "x", WHEN)
