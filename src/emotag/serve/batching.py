"""One scoring thread, fed by a queue, that merges concurrent requests into one model call.

Why a thread: scoring is CPU work (tokenizer + ONNX Runtime / PyTorch) that would stall
the event loop, and Hugging Face fast tokenizers are not safe to call from several threads at
once ("Already borrowed"). So every model call of the service runs here, one at a time, and
request handlers only await a future.

Why batching: while one batch is being scored, new requests queue up; the next model call
takes all of them (up to ``max_batch_texts``), so under load a request waits for at most one
batch instead of for every request ahead of it, and the model sees bigger batches. A lone
request waits ``max_wait_ms`` for company before it is scored. With ``enabled=False`` each
request is scored alone, in arrival order, on the same thread: the baseline to compare with.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError

log = logging.getLogger(__name__)

ScoreFn = Callable[[list[str]], np.ndarray]


@dataclass
class _Score:
    texts: list[str]
    future: Future = field(default_factory=Future)


@dataclass
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future = field(default_factory=Future)


_STOP = object()


class ServiceClosedError(RuntimeError):
    """The batcher was closed; the request was not scored."""


class MicroBatcher:
    """Scores texts for concurrent callers on one worker thread, in merged batches.

    ``on_batch(n_texts)`` is called after every model call (for metrics).
    """

    def __init__(self, score_fn: ScoreFn, *, enabled: bool = True, max_batch_texts: int = 64,
                 max_wait_ms: float = 2.0, on_batch: Callable[[int], None] | None = None
                 ) -> None:
        if max_batch_texts < 1:
            raise ConfigError(f"max_batch_texts={max_batch_texts}; expected at least 1")
        self.score_fn = score_fn
        self.enabled = enabled
        self.max_batch_texts = max_batch_texts
        self.max_wait_s = max(0.0, max_wait_ms) / 1000.0
        self.on_batch = on_batch
        self.batches = 0  # model calls made (read by tests and /healthz-style checks)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="emotag-scorer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ callers
    def submit(self, texts: Sequence[str]) -> Future:
        """A future of the ``(len(texts), n_labels)`` scores."""
        return self._put(_Score(list(texts)))

    def call(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` alone on the worker thread (other model work, e.g. explanations)."""
        return self._put(_Call(fn, args))

    async def score(self, texts: Sequence[str]) -> np.ndarray:
        """Await the scores of ``texts`` without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(texts))

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Await ``fn(*args)`` run on the worker thread."""
        return await asyncio.wrap_future(self.call(fn, *args))

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._closed

    def close(self, timeout: float | None = 10.0) -> None:
        """Finish queued work, then stop the thread; later submissions fail."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)

    def _put(self, item: _Score | _Call) -> Future:
        with self._lock:
            if self._closed:
                raise ServiceClosedError("the scoring thread is closed")
            self._queue.put(item)
        return item.future

    # ------------------------------------------------------------------ worker
    def _run(self) -> None:
        pending: Any = None
        while True:
            item = pending if pending is not None else self._queue.get()
            pending = None
            if item is _STOP:
                return
            if isinstance(item, _Call):
                self._call(item)
                continue
            batch = [item]
            if self.enabled:
                pending = self._gather(batch)
            self._score(batch)

    def _gather(self, batch: list[_Score]) -> Any:
        """Add queued requests to ``batch`` until it is full or the wait is over.

        Returns an item that could not join (a call, the stop mark, a request that would
        overflow the batch) for the next round, or None.
        """
        n = len(batch[0].texts)
        deadline = time.monotonic() + self.max_wait_s
        while n < self.max_batch_texts:
            left = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                return None
            if not isinstance(item, _Score) or n + len(item.texts) > self.max_batch_texts:
                return item
            batch.append(item)
            n += len(item.texts)
        return None

    def _score(self, batch: list[_Score]) -> None:
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        if not live:
            return
        texts = [t for r in live for t in r.texts]
        try:
            scores = self.score_fn(texts)
        except BaseException as e:  # every waiting request gets the error, the thread lives on
            log.exception("scoring a batch of %d texts failed", len(texts))
            for r in live:
                r.future.set_exception(e)
            return
        finally:
            self.batches += 1
            if self.on_batch is not None:
                self.on_batch(len(texts))
        start = 0
        for r in live:
            r.future.set_result(scores[start:start + len(r.texts)])
            start += len(r.texts)

    @staticmethod
    def _call(item: _Call) -> None:
        if not item.future.set_running_or_notify_cancel():
            return
        try:
            item.future.set_result(item.fn(*item.args))
        except BaseException as e:
            item.future.set_exception(e)
