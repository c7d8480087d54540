"""Software-defined assets: the klines layer and the studies built on it."""
