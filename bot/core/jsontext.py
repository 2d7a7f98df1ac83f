"""JSON text written a slice at a time, so a large container never exists whole as plain data."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any


def array_items(items: Iterable[Any], chunk: int, plain: Callable[[Any], Any]) -> Iterator[str]:
    """``plain(item)`` for each item as the elements of a JSON array, without its brackets,
    ``chunk`` items to a piece; the pieces concatenated are the elements separated by commas."""
    remaining = iter(items)
    separator = ""
    while piece := [plain(item) for item in islice(remaining, chunk)]:
        yield separator + json.dumps(piece)[1:-1]
        separator = ", "
