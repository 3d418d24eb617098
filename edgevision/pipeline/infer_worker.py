"""Inference in a thread of its own: the model is invoked while the caller post-processes and emits.

``invoke()`` releases the GIL, so Python work done in another thread while it runs is free on a
multi-core board; done on the invoking thread, it is added to every frame's period. The worker
takes frames (from the read-ahead queue or the latest-frame slot), runs the model on each and
hands ``(frame, scores)`` over a small bounded queue, in order; ranking the scores, building the
event and every sink's work happen in the caller's thread, overlapping the next ``invoke()``.
An error in the worker reaches the caller at its place in the stream; ``close`` stops it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import queue

from edgevision.runtime.frames import Frame

END = object()   # the source ended (returned by ``take`` and passed on to the consumer)
IDLE = object()  # nothing yet (``take`` timed out): the worker checks for stop and asks again


class InferWorker:
    """Iterate it for ``(frame, result)`` pairs; ``result`` is whatever ``infer(frame)`` returned.

    The hand-over is two ``queue.SimpleQueue`` (C calls, no Python-level locks: after an invoke the caches
    are cold, and every line between two invokes is paid on each frame): results one way, and ``depth``
    tokens the other way, so at most ``depth`` results wait for the caller (bounded memory).
    """

    def __init__(self, take: Callable[[], Frame | object], infer: Callable[[Frame], Any], stop: threading.Event,
                 limit: int | None = None, depth: int = 2, poll_s: float = 0.25) -> None:
        import queue  # here: a start that never runs a worker (one image, a small model) does not pay for it

        self.take, self.infer, self.stop, self.limit, self.poll_s = take, infer, stop, limit, poll_s
        self._out: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._room: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(max(1, depth)):
            self._room.put(None)
        self._empty = queue.Empty
        self._thread = threading.Thread(target=self._run, name="edgevision-infer", daemon=True)

    def start(self) -> InferWorker:
        self._thread.start()
        return self

    def _put(self, item: object) -> bool:
        """Hand ``item`` over once the caller has room for it; False if stopped first."""
        while not self.stop.is_set():
            try:
                self._room.get(timeout=self.poll_s)
            except self._empty:
                continue
            self._out.put(item)
            return True
        return False

    def _run(self) -> None:
        done = 0
        try:
            while not self.stop.is_set() and (self.limit is None or done < self.limit):
                frame = self.take()
                if frame is IDLE:
                    continue
                if frame is END:
                    break
                assert isinstance(frame, Frame)
                if not self._put((frame, self.infer(frame))):
                    return
                done += 1
        except Exception as exc:  # noqa: BLE001 - re-raised in the consumer, in stream order
            self._put(exc)
            return
        self._put(END)

    def __iter__(self) -> Iterator[tuple[Frame, Any]]:
        while True:
            try:
                item = self._out.get(timeout=self.poll_s)
            except self._empty:
                if not self._thread.is_alive() and self._out.empty():
                    return  # stopped (or gone) without an end marker
                continue
            self._room.put(None)
            if item is END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker (the caller has set ``stop`` or is done) and wait for its current frame."""
        self.stop.set()
        self._thread.join(timeout)
