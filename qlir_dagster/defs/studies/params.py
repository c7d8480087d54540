"""Each study's parameters as a Dagster config class, so the launchpad and run-config validation
refuse an unknown parameter or a wrong type before a run starts."""

from typing import Any

import dagster as dg
import pydantic

from qlir_core.studies import Study


def study_config(study: Study) -> type[dg.Config]:
    """A `dg.Config` with the fields (types and defaults) of the study's parameters model."""
    fields: dict[str, Any] = {
        name: (field.annotation, field.default)
        for name, field in study.parameters_model.model_fields.items()
    }
    return pydantic.create_model(study.parameters_model.__name__, __base__=dg.Config, **fields)
