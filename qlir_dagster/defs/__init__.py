"""The code location's definitions by domain: `binance/` (the klines layer) and `studies/`."""
