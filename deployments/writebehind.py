"""Write-behind for one batch of agent calls: the hot path's row writes, one statement per kind.

When many agents report on one deployment at once, `rollout.agent.agent_calls` applies their calls one after
another under the deployment's lock. Each completion updates its command and its lifecycle event, and
issues the host's next command (an INSERT, and an UPDATE when it is handed out started): five
statements per event, all inside the lock, so they are the serial part of a large rollout. Inside
`held()` those writes are kept in memory and written when the block ends: one INSERT for the new
commands and one UPDATE per model and set of fields, whatever the number of hosts.

Only writes that no later call of the batch reads back from the database are held: the objects are
the ones the calls work on, so what the calls read is in memory. Code that queries those rows inside
a batch calls `flush()` first (`rollout.steps.skip_remaining` does). Outside `held()` everything is written
at once, as before.
"""

from __future__ import annotations

import contextlib
import threading

from django.db import connection, models

_state = threading.local()


class _Held:
    def __init__(self) -> None:
        self.updates: dict[tuple[type, object], tuple[models.Model, set[str]]] = {}
        self.inserts: list[models.Model] = []

    def flush(self) -> None:
        inserts, self.inserts = self.inserts, []
        updates, self.updates = self.updates, {}
        by_model: dict[type, list[models.Model]] = {}
        for obj in inserts:
            by_model.setdefault(type(obj), []).append(obj)
        for model, objs in by_model.items():
            model.objects.bulk_create(objs)
        inserted = {id(obj) for obj in inserts}  # the INSERT wrote their latest values already
        groups: dict[tuple[type, tuple[str, ...]], list[models.Model]] = {}
        for obj, fields in updates.values():
            if id(obj) not in inserted:
                groups.setdefault((type(obj), tuple(sorted(fields))), []).append(obj)
        for (model, fields), objs in groups.items():
            update_rows(model, objs, fields)


def update_rows(model: type[models.Model], objs: list[models.Model], fields) -> None:
    """Write these fields of these rows in one statement.

    On PostgreSQL: one `UPDATE … FROM (VALUES …)`. Django's bulk_update builds a CASE expression
    per row and field, and resolving those costs more CPU than the rows' separate UPDATEs did. Elsewhere
    (SQLite, the embedded default, never a large fleet) bulk_update."""
    if len(objs) == 1:
        objs[0].save(update_fields=list(fields))
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, list(fields))
        return
    meta = model._meta
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    qn = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    params: list = []
    for obj in objs:
        params.append(pk.get_db_prep_value(obj.pk, connection))
        params += [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns]
    names = ", ".join(["pk"] + [f"c{i}" for i in range(len(columns))])
    # A cast per column: a VALUES column of NULLs alone would otherwise be text.
    sets = ", ".join(
        f"{qn(field.column)} = CAST(v.c{i} AS {field.cast_db_type(connection)})"
        for i, field in enumerate(columns)
    )
    sql = (
        f"UPDATE {qn(meta.db_table)} AS t SET {sets} FROM (VALUES {', '.join([row] * len(objs))}) AS v({names}) "  # noqa: S608 - names from the model, values bound
        f"WHERE t.{qn(pk.column)} = CAST(v.pk AS {pk.cast_db_type(connection)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _current() -> _Held | None:
    return getattr(_state, "held", None)


@contextlib.contextmanager
def held():
    """Hold the writes made through `save` and `insert` in this block and write them at its end.
    Use inside a transaction; nothing is written if the block raises."""
    outer = _current()
    if outer is not None:  # nested: the outer block writes
        yield
        return
    _state.held = batch = _Held()
    try:
        yield
        batch.flush()
    finally:
        _state.held = None


def save(obj: models.Model, fields: list[str]) -> None:
    """obj.save(update_fields=fields), held inside `held()`."""
    batch = _current()
    if batch is None:
        obj.save(update_fields=fields)
        return
    key = (type(obj), obj.pk)
    entry = batch.updates.get(key)
    if entry is not None and entry[0] is obj:
        entry[1].update(fields)
    else:
        if entry is not None:  # another copy of the row: write what is held first, keep the order
            batch.flush()
        batch.updates[key] = (obj, set(fields))


def insert(objs: list[models.Model]) -> None:
    """Model.objects.bulk_create(objs), held inside `held()`. Primary keys must be set by the caller
    (UUIDs), since a held row has none from the database yet."""
    batch = _current()
    if batch is None:
        if objs:
            type(objs[0]).objects.bulk_create(objs)
        return
    batch.inserts.extend(objs)


def flush() -> None:
    """Write what is held now (before a query that reads those rows)."""
    batch = _current()
    if batch is not None:
        batch.flush()
