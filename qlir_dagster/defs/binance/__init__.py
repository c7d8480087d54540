"""Binance spot candles: the `klines` asset, its checks, partitions, resources, jobs, schedules."""
