"""Where candles come from: Binance's REST API and its daily archive."""
