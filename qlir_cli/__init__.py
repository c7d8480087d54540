"""The `qlir` command: studies, series, charts, metrics and health, from a shell."""
