"""The Celery app of the worker and beat processes (`celery -A config worker|beat`)."""

import os

from celery import Celery
from celery.signals import worker_process_init

from config import querycount

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("fleetdeck")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Opt-in query counting (benchmarks). config/__init__.py imports this module, so every process that
# loads the settings counts (web, worker, beat, commands); each child of the worker's pool starts
# again, since the counting thread does not survive the fork.
querycount.install()


@worker_process_init.connect
def _count_queries_in_pool_children(**kwargs) -> None:
    querycount.install()
