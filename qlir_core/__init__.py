"""qlir_core."""
