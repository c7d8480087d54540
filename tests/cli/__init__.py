"""The `qlir` command."""
