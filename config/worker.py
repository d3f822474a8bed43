"""`python -m config.worker [all|main|waits] [celery worker options]`: a Celery worker on Fleetdeck's
queues, named from the settings (FLEETDECK_QUEUE, FLEETDECK_WAIT_QUEUE), so a unit or the stack never
spells a queue name of its own.

* `all` (the default): both queues, like a plain `celery -A config worker`.
* `main`: rollouts, integrations and the sweep, never a server-side wait (traffic shifts, health
  checks, provisioning), so no wait, however long, holds this worker.
* `waits`: the server-side waits only.
"""

from __future__ import annotations

import os
import sys

KINDS = ("all", "main", "waits")


def queue_options(kind: str, main: str, waits: str) -> list[str]:
    """The -Q/-X options of a worker of this kind."""
    if kind == "main":
        return ["--queues", main, "--exclude-queues", waits]
    if kind == "waits":
        return ["--queues", waits]
    return ["--queues", f"{main},{waits}"]


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    kind = argv.pop(0) if argv and argv[0] in KINDS else "all"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    from config.celery import app

    options = queue_options(kind, settings.CELERY_TASK_DEFAULT_QUEUE, settings.WAIT_QUEUE)
    app.worker_main(["worker", *options, *argv])


if __name__ == "__main__":
    main()
