import hashlib
import shutil
from datetime import date

import pytest

from qlir_core.errors import ChecksumMismatch, MalformedData, NotPublished
from qlir_core.series import Series
from qlir_core.sources.archive import ArchiveClient, day_path

BTC_1M = Series.parse("BTCUSDT-1m")


def test_archive_paths_by_exact_string():
    assert (
        day_path(BTC_1M, date(2023, 1, 21))
        == "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip"
    )
    client = ArchiveClient("https://data.binance.vision/")
    assert client.url(Series.parse("ETHUSDT-1h"), date(2022, 9, 7)) == (
        "https://data.binance.vision/data/spot/daily/klines/ETHUSDT/1h/ETHUSDT-1h-2022-09-07.zip"
    )


def test_reads_a_local_mirror_and_verifies_the_checksum(mirror):
    day = ArchiveClient(str(mirror)).fetch(BTC_1M, date(2023, 1, 21))
    assert len(day.candles) == 1440
    assert hashlib.sha256(day.zip_bytes).hexdigest() == day.checksum.split()[0].decode()


@pytest.fixture
def copy_of_day(mirror, tmp_path):
    rel = day_path(BTC_1M, date(2023, 1, 21))
    target = tmp_path / rel
    target.parent.mkdir(parents=True)
    shutil.copy(mirror / rel, target)
    shutil.copy(mirror / (rel + ".CHECKSUM"), str(target) + ".CHECKSUM")
    return tmp_path, target


def test_checksum_mismatch_is_refused_before_parsing(copy_of_day):
    root, target = copy_of_day
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch, match="sha256 is"):
        ArchiveClient(str(root)).fetch(BTC_1M, date(2023, 1, 21))


def test_a_zip_that_is_not_a_zip_is_malformed(copy_of_day):
    root, target = copy_of_day
    target.write_bytes(b"not a zip")
    digest = hashlib.sha256(b"not a zip").hexdigest()
    (target.parent / (target.name + ".CHECKSUM")).write_text(f"{digest}  {target.name}\n")
    with pytest.raises(MalformedData, match="not a readable zip"):
        ArchiveClient(str(root)).fetch(BTC_1M, date(2023, 1, 21))


def test_a_missing_day_is_not_published(mirror):
    with pytest.raises(NotPublished, match="no such file"):
        ArchiveClient(str(mirror)).fetch(BTC_1M, date(2023, 1, 22))
