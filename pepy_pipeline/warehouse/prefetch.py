"""Reads a source one step ahead in a background thread, so producing the next batch (numpy,
Arrow, network) overlaps with the engine inserting the current one."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` in order while a thread produces up to ``depth`` ahead.

    An exception in the producer is re-raised in the consumer; if the consumer stops early, the
    producer is told to stop and its thread ends.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stopping = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stopping.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stopping.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            buffer.put(error)

    thread = threading.Thread(target=produce, name="source-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stopping.set()
        while thread.is_alive():
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(0.05)
