"""Agent calls on one deployment (acks, log lines, completions), arriving together, run together.

Every such call takes its deployment's row lock (the event log's sequence numbers and the
orchestration need it), so on a large deployment they would queue on that lock one transaction and one
commit at a time. `combiner` gathers the calls that arrive while a batch runs into the next batch, and
each batch is one transaction (`engine.agent_calls`): the same guarantees, a fraction of the lock
hand-offs, round trips and commits. A call alone is a batch of one, with no added wait.
"""

from __future__ import annotations

import asyncio
import logging

from django.db import DatabaseError

from deployments import asyncdb, engine
from deployments.models import HostCommand, Instance

from . import poll
from .credentials import Unauthorized, authenticate

log = logging.getLogger(__name__)


class Combiner:
    """Queues of waiting calls, one per deployment and event loop, each drained by one task."""

    MAX_BATCH = 200

    def __init__(self) -> None:
        self.queues: dict[tuple, list] = {}
        self.tasks: set[asyncio.Task] = set()

    async def call(self, deployment_id: str, op: str, command_id, credential: str, *args):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        key = (id(loop), deployment_id)
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = []
            task = loop.create_task(self._drain(key, deployment_id))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        queue.append(((op, command_id, credential, args), future))
        return await future

    async def _drain(self, key: tuple, deployment_id: str) -> None:
        queue = self.queues[key]
        try:
            while queue:
                batch = queue[: self.MAX_BATCH]
                del queue[: len(batch)]
                try:
                    results = await asyncdb.db(run_batch)(deployment_id, [call for call, _ in batch])
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.queues.pop(key, None)
            for _, future in queue:
                if not future.done():
                    future.set_exception(RuntimeError("the agent call batch was cancelled"))


def run_batch(deployment_id: str, calls: list[tuple]) -> list:
    """One batch: authenticate every caller in one query, run the calls in one transaction, record
    the callers' heartbeats in one UPDATE, then fetch every completing host's next commands in one
    query (the completion's answer). Calls are `(op, command_id, credential hash, args)`."""
    instances = {i.credential_hash: i for i in Instance.holding(*{call[2] for call in calls})}
    results: list = [Unauthorized()] * len(calls)
    known = [index for index, call in enumerate(calls) if call[2] in instances]
    if known:
        engine_calls = [
            (op, command_id, instances[cred], args)
            for op, command_id, cred, args in (calls[i] for i in known)
        ]
        for index, result in zip(known, engine.agent_calls(deployment_id, engine_calls), strict=True):
            results[index] = result
        try:
            Instance.seen_many(instances.values())
        except DatabaseError as exc:  # a heartbeat is best effort; the calls themselves committed
            log.warning("heartbeats of a batch not recorded: %s", exc)
    completed = {
        index: instances[calls[index][2]].pk
        for index in known
        if calls[index][0] == "complete" and isinstance(results[index], HostCommand)
    }
    if not completed:
        return results
    started = [results[index].started_next.pk for index in completed if results[index].started_next]
    open_by_instance = poll.open_commands_for(list(completed.values()), started)
    for index, instance_id in completed.items():
        results[index] = (results[index], open_by_instance.get(instance_id, []))
    return results


combiner = Combiner()


def _command_deployment(command_id, credential: str) -> str | None:
    """The deployment of a command this process has not handed out; None if the command is not the
    caller's, Unauthorized if the credential is not valid."""
    deployment_id = (
        HostCommand.objects.filter(pk=command_id, instance__in=Instance.holding(credential))
        .values_list("deployment_id", flat=True)
        .first()
    )
    if deployment_id is None:
        authenticate(credential)  # a bad credential is a 401; someone else's command a 404
    return deployment_id


async def agent_call(op: str, command_id, credential: str, *args):
    """Run op ("ack", "log" or "complete") on the command through its deployment's batch; None if
    the command is not the caller's."""
    deployment_id = poll.handed_out_deployment(command_id)
    if deployment_id is None:
        deployment_id = await asyncdb.db(_command_deployment)(command_id, credential)
        if deployment_id is None:
            return None
    return await combiner.call(deployment_id, op, command_id, credential, *args)
