"""qlir_dagster."""
