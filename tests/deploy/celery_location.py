"""qlir's code location with its steps executed by Celery workers (dagster-celery): the same
definitions, only the executor differs. The broker and results backend are $QLIR_CELERY_BROKER."""

import os

from dagster._record import copy
from dagster_celery import celery_executor

from qlir_dagster import config
from qlir_dagster.definitions import build_defs

_broker = os.environ["QLIR_CELERY_BROKER"]
defs = copy(
    build_defs(config.load()),
    executor=celery_executor.configured({"broker": _broker, "backend": _broker}),
)
