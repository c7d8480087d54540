"""Binance's error bodies (`{"code": -1121, "msg": "Invalid symbol."}`) and the codes used here."""

from __future__ import annotations

from starlette.responses import JSONResponse

UNKNOWN = -1000
TOO_MANY_REQUESTS = -1003
SERVER_BUSY = -1008
ILLEGAL_CHARS = -1100
MANDATORY_PARAM = -1102
START_AFTER_END = -1023
BAD_INTERVAL = -1120
BAD_SYMBOL = -1121
BAD_COMBO = -1128
INVALID_PARAMETER = -1130

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"


def error(code: int, msg: str, status: int = 400, retry_after: int | None = None) -> JSONResponse:
    """An error response as Binance sends it; `retry_after` adds a Retry-After header (s)."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
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
