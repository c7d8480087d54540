"""The live signal: the `signals` asset per series, its alerts check, its automation sensor and the
alert webhook."""
