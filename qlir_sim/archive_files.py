"""The archive endpoint: `/data/spot/daily/klines/{SYMBOL}/{interval}/{file}.zip[.CHECKSUM]`."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from qlir_sim.archive import checksum_file, parse_request, zip_name
from qlir_sim.exchange import Exchange
from qlir_sim.faults import Roll, corrupts
from qlir_sim.tamper import corrupt_checksum, corrupt_zip, truncate_csv

ROUTE = "/data/spot/daily/klines/{symbol}/{interval}/{filename}"


async def archive_file(request: Request, ex: Exchange, roll: Roll) -> Response:
    """The zip or CHECKSUM of a fully past day; 404, as the archive answers, for anything else."""
    path = request.path_params
    wanted = parse_request(path["symbol"], path["interval"], path["filename"])
    if wanted is None:
        return _not_found()
    now, faults = ex.now_ms(), ex.faults.faults
    cut = corrupts(faults.truncate_csv, wanted.day)
    if wanted.checksum:
        data = await run_in_threadpool(ex.market.archive_checksum, wanted.series, wanted.day, now)
        if data is not None and cut:  # the sidecar of the cut zip: it matches
            zipped = await run_in_threadpool(ex.market.archive_zip, wanted.series, wanted.day, now)
            if zipped is not None:
                cut_zip = truncate_csv(zipped, wanted.day)
                data = checksum_file(cut_zip, zip_name(wanted.series, wanted.day))
        if data is not None and corrupts(faults.corrupt_checksum, wanted.day):
            data = corrupt_checksum(data)
            ex.stats.fault("corrupt_checksum")
        media = "text/plain"
    else:
        data = await run_in_threadpool(ex.market.archive_zip, wanted.series, wanted.day, now)
        if data is not None and cut:
            data = truncate_csv(data, wanted.day)
            ex.stats.fault("truncate_csv")
        if data is not None and corrupts(faults.corrupt_zip, wanted.day):
            data = corrupt_zip(data)
            ex.stats.fault("corrupt_zip")
        media = "application/zip"
    return _not_found() if data is None else Response(data, media_type=media)


def _not_found() -> Response:
    # data.binance.vision is an S3 bucket behind a CDN: a missing key is a 404 with an XML body.
    body = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code></Error>"
    return PlainTextResponse(body, status_code=404, media_type="application/xml")
