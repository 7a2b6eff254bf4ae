"""Spreading a list of work over all cores, with the same result as doing it in order.

Used for the two costly stages of a build: rendering Markdown (`content`) and rendering
pages (`site`). Work goes out in contiguous chunks, a few per core to even out uneven
items, and comes back in order, so the output never depends on how it was split.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

Item = TypeVar("Item")


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    """Forking is the cheapest start, but unsafe once threads exist (serve, the scheduler)."""
    return os.name == "posix" and threading.active_count() == 1


def chunked_map(
    function: Callable[..., list[Any]],
    items: Sequence[Item],
    *args: Any,
    spawn: bool = True,
) -> Iterator[Any]:
    """`function(chunk, *args)` over chunks of `items` on every core; yields the results
    in order, each chunk's as soon as it and those before it are done.

    `function` must be a module-level function returning one result per item. Without
    `spawn`, work that relies on state inherited by forking runs here, in order, when
    forking is unsafe.
    """
    workers = cores()
    if workers < 2 or not (can_fork() or spawn):
        yield from function(items, *args)
        return
    # lazy: 16 ms to import, and a build with few changes never starts processes
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork" if can_fork() else "spawn")
    size = -(-len(items) // (workers * 4))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        for part in pool.map(function, chunks, *([arg] * len(chunks) for arg in args)):
            yield from part
