"""The archive host: `/data/spot/daily/klines/{SYMBOL}/{interval}/{file}.zip[.CHECKSUM]`, the
zips and CHECKSUM files of fully past days, damaged when a fault names the day."""

from __future__ import annotations

from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from qlir_core import binance
from qlir_core.errors import InvalidSeries
from qlir_core.series import Series
from qlir_sim.exchange import Exchange
from qlir_sim.faults import Roll, corrupt_checksum, corrupt_zip, corrupts, truncate_csv
from qlir_sim.formats import checksum_file

ROUTE = f"/{binance.ARCHIVE_PREFIX}/{{symbol}}/{{interval}}/{{filename}}"


async def archive_file(request: Request, ex: Exchange, roll: Roll) -> Response:
    """The zip or CHECKSUM of a fully past day; 404, as the archive answers, for anything else."""
    wanted = parse_request(request.url.path)
    if wanted is None:
        return _not_found()
    series, day, checksum = wanted
    now, faults = ex.now_ms(), ex.faults.faults
    cut = corrupts(faults.truncate_csv, day)
    if checksum:
        data = await run_in_threadpool(ex.market.archive_checksum, series, day, now)
        if data is not None and cut:  # the sidecar of the cut zip: it matches
            zipped = await run_in_threadpool(ex.market.archive_zip, series, day, now)
            if zipped is not None:
                cut_zip = truncate_csv(zipped, day)
                data = checksum_file(cut_zip, binance.archive_zip_name(series, day))
        if data is not None and corrupts(faults.corrupt_checksum, day):
            data = corrupt_checksum(data)
            ex.stats.fault("corrupt_checksum")
        media = "text/plain"
    else:
        data = await run_in_threadpool(ex.market.archive_zip, series, day, now)
        if data is not None and cut:
            data = truncate_csv(data, day)
            ex.stats.fault("truncate_csv")
        if data is not None and corrupts(faults.corrupt_zip, day):
            data = corrupt_zip(data)
            ex.stats.fault("corrupt_zip")
        media = "application/zip"
    return _not_found() if data is None else Response(data, media_type=media)


def parse_request(path: str) -> tuple[Series, date, bool] | None:
    """(series, day, whether the CHECKSUM is asked for) of an archive path, or None if no such
    file can exist (a malformed name, an interval that does not tile a day)."""
    checksum = path.endswith(binance.CHECKSUM_SUFFIX)
    try:
        symbol, interval, day = binance.parse_archive_url(
            path.removesuffix(binance.CHECKSUM_SUFFIX)
        )
        return Series(symbol, interval), day, checksum
    except (InvalidSeries, ValueError):
        return None


def _not_found() -> Response:
    # data.binance.vision is an S3 bucket behind a CDN: a missing key is a 404 with an XML body.
    body = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code></Error>"
    return PlainTextResponse(body, status_code=404, media_type="application/xml")
