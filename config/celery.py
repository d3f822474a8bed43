"""The Celery app of the worker and beat processes (`celery -A config worker|beat`)."""

import os

from celery import Celery
from celery.signals import celeryd_after_setup, celeryd_init, worker_process_init
from celery.utils.text import str_to_list

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


# The queues a worker was told not to consume (-X), noted before Celery applies its options.
_excluded: list[str] = []


@celeryd_init.connect
def _note_queue_options(options=None, **kwargs) -> None:
    _excluded[:] = str_to_list((options or {}).get("exclude_queues") or [])


@celeryd_after_setup.connect
def _waits_with_the_main_queue(sender=None, instance=None, **kwargs) -> None:
    """A worker started for the main queue alone (`--queues fleetdeck`: the worker command and unit from
    before the waits queue existed) consumes the waits queue too, so an upgrade that keeps it keeps
    running traffic shifts and health checks. `--exclude-queues <waits>` (what `python -m config.worker
    main` passes) opts out."""
    from django.conf import settings

    queues = instance.app.amqp.queues
    consumed, waits = queues.consume_from, settings.WAIT_QUEUE
    if settings.CELERY_TASK_DEFAULT_QUEUE in consumed and waits not in consumed and waits not in _excluded:
        queues.select_add(queues[waits])
