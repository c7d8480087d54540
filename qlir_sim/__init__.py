"""qlir_sim."""
