"""Binance's error replies (`{"code": -1121, "msg": "Invalid symbol."}`) and the codes used here."""

from __future__ import annotations

from starlette.responses import JSONResponse

from qlir_core import binance

UNKNOWN = -1000
TOO_MANY_REQUESTS = binance.TOO_MANY_REQUESTS_CODE
SERVER_BUSY = -1008
ILLEGAL_CHARS = -1100
MANDATORY_PARAM = -1102
START_AFTER_END = -1023
BAD_INTERVAL = -1120
BAD_SYMBOL = binance.BAD_SYMBOL_CODE
BAD_COMBO = -1128
INVALID_PARAMETER = -1130


def error(code: int, msg: str, status: int = 400, retry_after: int | None = None) -> JSONResponse:
    """An error response as Binance sends it; `retry_after` adds a Retry-After header (s)."""
    headers = {} if retry_after is None else {binance.RETRY_AFTER_HEADER: str(retry_after)}
    return JSONResponse({"code": code, "msg": msg}, status_code=status, headers=headers)


def bad_symbol() -> JSONResponse:
    return error(BAD_SYMBOL, "Invalid symbol.")


def bad_interval() -> JSONResponse:
    return error(BAD_INTERVAL, "Invalid interval.")


def mandatory(name: str) -> JSONResponse:
    return error(
        MANDATORY_PARAM, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal_chars(name: str) -> JSONResponse:
    return error(
        ILLEGAL_CHARS,
        f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
    )


def invalid(name: str) -> JSONResponse:
    return error(INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid.")


def rate_limited(retry_after: int, limit: int, window: tuple[str, int]) -> JSONResponse:
    msg = (
        f"Too much request weight used; current limit is {limit} request weight per "
        f"{window[1]} {window[0]}. Please use WebSocket Streams for live updates to avoid "
        "polling the API."
    )
    return error(TOO_MANY_REQUESTS, msg, status=429, retry_after=retry_after)


def banned(retry_after: int, until_ms: int) -> JSONResponse:
    msg = (
        f"Way too much request weight used; IP banned until {until_ms}. "
        "Please use WebSocket Streams for live updates to avoid bans."
    )
    return error(TOO_MANY_REQUESTS, msg, status=418, retry_after=retry_after)


def server_error(status: int) -> JSONResponse:
    """The 500 or 503 Binance answers when it fails (502 and 504 come from proxies, not here)."""
    if status == 503:
        return error(SERVER_BUSY, "Server is currently overloaded with other requests.", 503)
    return error(UNKNOWN, "An unknown error occurred while processing the request.", 500)
