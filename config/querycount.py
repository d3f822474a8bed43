"""Opt-in query counting for benchmarks: FLEETDECK_QUERY_COUNT_DIR=/some/dir.

Each process counts the SQL statements it runs and writes the total to <dir>/<pid> twice a second,
so a benchmark can sum queries across the web server and the worker without a database extension.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from django.db.backends.signals import connection_created

_count = 0
_lock = threading.Lock()


def _wrapper(execute, sql, params, many, context):
    global _count
    with _lock:
        _count += 1
    return execute(sql, params, many, context)


def _writer(directory: Path) -> None:
    last = -1
    while True:
        time.sleep(0.5)
        if _count != last:
            last = _count
            (directory / str(os.getpid())).write_text(str(last))


_connected = False


def _on_connect(sender, connection, **kwargs):
    if _wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_wrapper)


def install() -> None:
    """Start counting in this process; call again in a forked child (Celery's pool) to count there."""
    global _connected, _count
    directory = os.environ.get("FLEETDECK_QUERY_COUNT_DIR")
    if not directory:
        return
    if not _connected:
        connection_created.connect(_on_connect, weak=False)
        _connected = True
    _count = 0
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    threading.Thread(target=_writer, args=(path,), daemon=True, name="querycount").start()


def total(directory: Path) -> int:
    return sum(int(p.read_text() or 0) for p in Path(directory).iterdir() if p.name.isdigit())
