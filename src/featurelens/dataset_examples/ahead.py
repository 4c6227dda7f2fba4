"""Run a generator ahead of its consumer in a thread of its own, so making the next item (reading files, a
spectrogram front end) overlaps the consumer's work on this one, as a DataLoader worker would."""

from __future__ import annotations

import threading
from queue import Empty, Full, Queue
from typing import Iterator, TypeVar

Item = TypeVar("Item")
_END = object()


def run_ahead(items: Iterator[Item], depth: int = 1) -> Iterator[Item]:
    """The items of `items` in order, made up to `depth` ahead by a thread. An error there is raised here; when the
    consumer stops early (done, an error, Ctrl-C), the thread stops after the item it is making and closes `items`."""
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                queue.put(entry, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def make() -> None:
        try:
            for item in items:
                if not hand_over((item, None)):
                    return
            hand_over((_END, None))
        except BaseException as err:  # noqa: BLE001 — handed to the consumer, which raises it
            hand_over((_END, err))
        finally:
            close = getattr(items, "close", None)  # a generator's own clean-up (its reader threads) runs here
            if close is not None:
                close()

    thread = threading.Thread(target=make, name="featurelens-ahead", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item, err = queue.get(timeout=0.1)
            except Empty:
                continue
            if item is _END:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        thread.join()
