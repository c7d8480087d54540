"""The studies: one asset per registered study, their IO manager, job and automation sensor."""
