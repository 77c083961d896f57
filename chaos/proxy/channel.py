"""Chunks and the channels that carry them between the stages of a link.

A channel is a FIFO with one reader and one writer that may each wait on it; waiting is a
callback (`Waiter.ready`), so a stage, the link's reader or a timer can all be woken the same
way. Capacity is advisory: producers check `full()` before pushing, and a removed toxic's
leftovers are appended whatever the capacity, so nothing is ever dropped for lack of room.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol

now = time.monotonic


class Chunk:
    """Bytes read from a socket, stamped with the time they were read."""

    __slots__ = ("data", "stamp")

    def __init__(self, data: bytes | memoryview, stamp: float) -> None:
        self.data = data
        self.stamp = stamp


Item = Chunk | None  # None marks the end of the stream


class Waiter(Protocol):
    """Something a channel wakes when it gets an item or frees room."""

    def ready(self) -> None: ...


class Channel:
    """A FIFO of chunks between two stages, with one waiting reader and one waiting writer."""

    __slots__ = ("capacity", "items", "reader", "writer")

    def __init__(self, capacity: int) -> None:
        self.items: deque[Item] = deque()
        self.capacity = capacity
        self.reader: Waiter | None = None
        self.writer: Waiter | None = None

    def push(self, item: Item) -> None:
        """Append (ignoring capacity: producers check `full()` first) and wake the reader."""
        self.items.append(item)
        reader = self.reader
        if reader is not None:
            self.reader = None
            reader.ready()

    def pop(self) -> Item:
        """Take the oldest item and wake the writer when room appears."""
        item = self.items.popleft()
        writer = self.writer
        if writer is not None and len(self.items) < self.capacity:
            self.writer = None
            writer.ready()
        return item

    def extend(self, items: list[Item]) -> None:
        """Append several items at once (a removed stage's leftovers) and wake the reader."""
        self.items.extend(items)
        reader = self.reader
        if reader is not None and self.items:
            self.reader = None
            reader.ready()

    def full(self) -> bool:
        """True when a producer should wait."""
        return len(self.items) >= self.capacity

    def set_capacity(self, capacity: int) -> None:
        """Resize; a writer waiting for room is woken if there is some now."""
        self.capacity = capacity
        writer = self.writer
        if writer is not None and not self.full():
            self.writer = None
            writer.ready()


class Sink(Channel):
    """Where data goes after a toxic closed the link: accepted and dropped."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(1)

    def push(self, item: Item) -> None:
        """Drop the item."""

    def full(self) -> bool:
        """Never full."""
        return False
