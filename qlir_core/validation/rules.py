"""The validation rules: stable names, their severity and what each one means.

A rule's value is its stable spelling in stored data (failure tables, check metadata); log lines
show its enum name;
severity says what a violation is: ERROR for corruption, WARN for the exchange's own
irregularities (halts, truncated bars; docs/reference/binance-api-notes.md §8), INFO for what is
merely not there yet (the current day).
"""

from __future__ import annotations

from enum import Enum


class Severity(Enum):
    INFO = "info"
    WARN = "warn"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """INFO < WARN < ERROR."""
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARN: 1, Severity.ERROR: 2}


class GapCause(Enum):
    """Why a candle the day should have is missing."""

    EXCHANGE = "exchange"  # the source served no candle there (a halt): the slice says so
    FETCH = "fetch"  # no slice covers it, its slice failed, or the table lost it
    PENDING = "pending"  # the current day: it closed after the fetch, or is not requested yet


class Rule(Enum):
    # the manifest table and its slices
    MANIFEST_COLUMNS = "manifest_columns"
    SLICE_KEY = "slice_key_parses"
    SLICE_URL = "slice_url_parses"
    SLICE_AGREES = "slice_agrees"
    SLICE_ALIGNED = "slice_start_aligned"
    SLICE_ID = "slice_id_matches"
    SLICE_SPACING = "slice_spacing"
    SLICES_PENDING = "slices_pending"
    SLICE_CANDLES = "slice_candles"
    # the candle table: pandera schema
    CANDLE_COLUMNS = "candle_columns"
    OHLC_ORDER = "ohlc_order"
    NON_NEGATIVE = "non_negative"
    TAKER_VOLUME = "taker_volume"
    # the candle table: times
    INSIDE_DAY = "inside_day"
    CANDLE_FINAL = "candle_final"
    CLOSE_TIME = "close_time"
    CLOSE_OFF_BY_ONE = "close_time_off_by_one"
    TRUNCATED_BAR = "truncated_bar"
    OPEN_ORDER = "open_time_order"
    DUPLICATE_OPEN = "duplicate_open_time"
    MISALIGNED_OPEN = "misaligned_open_time"
    # completeness
    EXCHANGE_GAP = "exchange_gap"
    FETCH_GAP = "fetch_gap"
    CANDLES_PENDING = "candles_pending"
    # the stored partition as one unit
    PARTS_AGREE = "partition_parts_agree"

    @property
    def severity(self) -> Severity:
        return _RULES[self][0]

    @property
    def description(self) -> str:
        return _RULES[self][1]


_E, _W, _I = Severity.ERROR, Severity.WARN, Severity.INFO
_RULES: dict[Rule, tuple[Severity, str]] = {
    Rule.MANIFEST_COLUMNS: (_E, "the manifest has exactly the ledger's columns, dtypes, enums"),
    Rule.SLICE_KEY: (_E, "the slice key parses: SYMBOL:interval:start_ms:limit, limit > 0"),
    Rule.SLICE_URL: (_E, "the URL parses: klines query or archive daily path"),
    Rule.SLICE_AGREES: (_E, "key, URL, ledger columns and partition name the same window"),
    Rule.SLICE_ALIGNED: (_E, "the slice starts on an interval boundary"),
    Rule.SLICE_ID: (_E, "the slice id is the hash of the slice key"),
    Rule.SLICE_SPACING: (_E, "slices start at 00:00, are spaced interval × limit, cover the day"),
    Rule.SLICES_PENDING: (_I, "current day: planned slices not requested yet"),
    Rule.SLICE_CANDLES: (_E, "each slice's candle count and first/last open match the table"),
    Rule.CANDLE_COLUMNS: (_E, "the candle table has exactly its columns and dtypes, no nulls"),
    Rule.OHLC_ORDER: (_E, "low <= min(open, close) and max(open, close) <= high"),
    Rule.NON_NEGATIVE: (_E, "volumes and trade counts are >= 0"),
    Rule.TAKER_VOLUME: (_E, "taker buy volumes <= volumes (base and quote)"),
    Rule.INSIDE_DAY: (_E, "every candle opens and closes inside its UTC day"),
    Rule.CANDLE_FINAL: (_E, "every stored candle had closed before now"),
    Rule.CLOSE_TIME: (_E, "close_time = open_time + interval - 1 (or a truncated bar)"),
    Rule.CLOSE_OFF_BY_ONE: (_W, "close_time = open_time + interval (old archive quirk)"),
    Rule.TRUNCATED_BAR: (_W, "a flat zero-volume bar closing early just before a gap (a halt)"),
    Rule.OPEN_ORDER: (_E, "open times increase row by row"),
    Rule.DUPLICATE_OPEN: (_E, "no open time occurs twice"),
    Rule.MISALIGNED_OPEN: (_E, "open_time % interval = 0"),
    Rule.EXCHANGE_GAP: (_W, "missing candles the exchange itself has no data for (a halt)"),
    Rule.FETCH_GAP: (_E, "missing candles the fetch caused (no, failed or inconsistent slice)"),
    Rule.CANDLES_PENDING: (_I, "current day: candles closed since the fetch, not fetched yet"),
    Rule.PARTS_AGREE: (_E, "candles, manifest and raw payloads are one version and agree"),
}

# Rules that need the stored files, not just the tables: only `validate_store` computes them.
STORE_RULES = frozenset({Rule.PARTS_AGREE})

GAP_RULE = {
    GapCause.EXCHANGE: Rule.EXCHANGE_GAP,
    GapCause.FETCH: Rule.FETCH_GAP,
    GapCause.PENDING: Rule.CANDLES_PENDING,
}
