"""Giving freed memory back to the operating system after a large, short-lived allocation.

Why: glibc's malloc keeps memory it has freed inside its heaps for reuse, so the tens of MiB a
snapshot passes through on its way to the database can stay resident after it is freed.
``malloc_trim`` returns those free pages. Elsewhere (macOS, musl) there is no such call and this
does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def return_free_memory() -> bool:
    """Hand the allocator's free pages back to the system; False where the platform cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
