"""Batch n+1's Redis round trip in flight while batch n is decided (the kafka engine).

Deciding a batch one step after the other bounds a worker by 1 / (its own CPU + Redis's
time) per application: the worker waits for the round trip, then Redis waits for the
worker. Here one thread of its own (``loanrisk-redis``) runs the batches' Redis calls in
the order they are given -- round trip n+1, then the memo write of batch n, then round
trip n+2 -- while the deciding thread decides batch n; redis-py releases the GIL while it
waits on the socket. The deciding thread builds each request and reads each reply
(``FeatureEngine.exchange_call`` and ``exchange_result``), so the Redis thread holds the
GIL for little more than the send and the receive. The bound becomes
1 / max(worker, Redis).

What stays as it was one step after the other:

* **State.** A round trip is sent only once the one before it has returned, so batch n+1
  sees every session event, application and fraud confirmation batch n wrote.
* **Redelivery.** An application of batch n+1 that is also in batch n (not decided when
  n+1's round trip was sent) is not sent again: it gets n's decision
  (``Prepared.later``). One decided before whose memo write has not reached Redis is found
  in the process (``RedeliveryMemo.pending``).
* **Commits.** ``settle`` waits for the memo writes of every batch decided; the transport
  calls ``drain`` and ``settle`` before committing offsets, so a memo is in Redis (or kept
  in the process, when Redis is away) before its application's offset is committed.
* **Declines** are recorded with the first round trip sent after they were decided: with a
  batch in flight, batch n's go with n+2's round trip (one step after the other: with
  n+1's). The offline replay gives the served vectors from the worker's log in that order
  -- each batch's applications when its round trip is sent, its decisions when made
  (``tests/integration/test_overlap.py``).
* **Degraded mode.** The round trip and its retries run on the Redis thread; the outage
  state is updated when it has landed, before the next batch is prepared.

Depth is one batch. ``pipelined=False`` runs the same steps inline (the exactly-once
worker commits a transaction per batch, so it has nothing to overlap).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from schemas.records import LoanApplication
from streams.worker.pipeline import Decided, DecisionPipeline, Prepared, StateWrites

log = logging.getLogger("loanrisk.worker")

T = TypeVar("T")
_UNSET: Any = object()


class _Inline:
    """An executor that runs each call at once, in the caller's thread."""

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed over, raised by result()
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True) -> None:
        pass


@dataclass
class _Flight:
    prepared: Prepared
    future: Future[list[Any] | None]
    got: Any = _UNSET  # Exchanged | None once landed
    written: bool = True
    ids: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.ids = frozenset(a["application_id"] for a in self.prepared.applications)


class Overlap:
    """One batch in flight at most: ``send`` the next batch's round trip and get the
    decisions of the one before it; ``drain`` decides the last one."""

    def __init__(self, pipeline: DecisionPipeline,
                 record: Callable[[list[Decided]], Any] | None = None,
                 pipelined: bool = True) -> None:
        self.pipeline = pipeline
        self._record = record  # counts each batch's decisions (``WorkerCore.record``)
        self.pipelined = pipelined
        self._pool: ThreadPoolExecutor | _Inline = (
            ThreadPoolExecutor(1, thread_name_prefix="loanrisk-redis") if pipelined
            else _Inline())
        self._flight: _Flight | None = None
        self._earlier: dict[str, Decided] = {}  # the last batch decided, by id
        self._writes: list[Future[None]] = []  # memo writes not known to be finished

    @property
    def busy(self) -> bool:
        """A batch is in flight (sent, not decided)."""
        return self._flight is not None

    def land(self) -> bool | None:
        """Wait for the round trip in flight; whether it wrote the state it carried
        (None: nothing in flight). An error other than Redis's own drops the batch (it
        is not committed: the transport stops) and is raised."""
        f = self._flight
        if f is None:
            return None
        if f.got is _UNSET:
            try:
                got = f.future.result()
            except BaseException:
                self._flight = None
                raise
            f.got = self.pipeline.landed(f.prepared, got)
            f.written = f.got is not None
        return f.written

    def send(self, applications: Sequence[LoanApplication],
             state: StateWrites | None) -> list[Decided]:
        """Send this batch's round trip (after the one in flight has landed), then decide
        the batch before it while this one runs: that batch's decisions ([] if none)."""
        prev = self._flight
        if prev is not None:
            self.land()
        prepared = self.pipeline.prepare(applications, state, prev.ids if prev else ())
        self._flight = _Flight(prepared, self._pool.submit(self.pipeline.send, prepared))
        return [] if prev is None else self._decide(prev)

    def drain(self) -> list[Decided]:
        """Decide the batch in flight, if any: nothing is in flight afterwards."""
        f = self._flight
        if f is None:
            return []
        self.land()
        self._flight = None
        decided = self._decide(f)
        self._earlier = {}
        return decided

    def settle(self) -> None:
        """Wait until the memo writes of every batch decided so far have finished."""
        for w in self._writes:
            w.result()
        self._writes.clear()

    def close(self) -> None:
        """Stop the Redis thread (after ``drain`` and ``settle``)."""
        self._pool.shutdown(wait=True)

    def _decide(self, f: _Flight) -> list[Decided]:
        decided, new = self.pipeline.decide_prepared(f.prepared, f.got, self._earlier)
        self._earlier = {d.application_id: d for d in decided}
        staged = self.pipeline.memo.stage(new)
        if staged:
            for w in [w for w in self._writes if w.done()]:
                w.result()  # raises what a finished write raised (it keeps Redis's errors)
                self._writes.remove(w)
            self._writes.append(self._pool.submit(self.pipeline.memo.write, staged))
        if self._record is not None:
            self._record(decided)
        return decided
