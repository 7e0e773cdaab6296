"""PostgreSQL binary COPY streams written with numpy (no Python loop per row).

A binary COPY row is a 16-bit field count followed by, per field, a 32-bit length (-1 for
NULL) and the value in network byte order. Rows whose NULLs and text values agree have the
same layout, so each such group of rows is one numpy structured array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Signature, flags and header-extension length that open every binary COPY stream.
HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
#: Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
PG_EPOCH_US = 946_684_800_000_000
_FORMATS = {"int4": ">i4", "int8": ">i8", "float8": ">f8", "timestamptz": ">i8"}


@dataclass(frozen=True)
class Field:
    """One column of a binary COPY.

    Parameters
    ----------
    kind
        ``int4``, ``int8``, ``float8``, ``timestamptz`` (values: microseconds since the Unix
        epoch) or ``text`` (values: codes into ``labels``).
    values
        One value (or label code) per row.
    nulls
        True where the value is NULL; None when the column has none.
    labels
        The distinct texts of a ``text`` field.
    """

    kind: str
    values: np.ndarray
    nulls: np.ndarray | None = None
    labels: tuple[str, ...] = ()


def encode(fields: Sequence[Field]) -> list[memoryview]:
    """Return the rows of ``fields`` in binary COPY form, as buffers (no header or trailer).

    A stream is :data:`HEADER`, the buffers of one or more calls, and :data:`TRAILER`. Rows
    come out grouped by their layout (which fields are NULL, which text each text field
    holds), in their original order within a group.
    """
    n = len(fields[0].values)
    # One integer per row telling its layout: a bit per nullable field, a digit per text field.
    shape = np.zeros(n, dtype=np.int64)
    scale = 1
    for f in fields:
        if f.kind == "text":
            shape += f.values.astype(np.int64) * scale
            scale *= max(len(f.labels), 1)
        elif f.nulls is not None:
            shape += f.nulls.astype(np.int64) * scale
            scale *= 2
    if not n:
        return []
    if (shape == shape[0]).all():
        return [_block(fields, np.arange(n))]
    kinds, inverse = np.unique(shape, return_inverse=True)
    return [_block(fields, np.flatnonzero(inverse == k)) for k in range(len(kinds))]


def _block(fields: Sequence[Field], rows: np.ndarray) -> memoryview:
    """Encode rows that share one layout (the layout of the first of them)."""
    first = rows[0]
    layout: list[tuple[str, str]] = [("count", ">i2")]
    prototype: list[object] = [len(fields)]
    columns: list[tuple[str, np.ndarray]] = []
    for i, f in enumerate(fields):
        layout.append((f"len{i}", ">i4"))
        if f.kind == "text":
            text = f.labels[int(f.values[first])].encode()
            prototype.append(len(text))
            if text:
                layout.append((f"v{i}", f"S{len(text)}"))
                prototype.append(text)
        elif f.nulls is not None and f.nulls[first]:
            prototype.append(-1)
        else:
            fmt = _FORMATS[f.kind]
            layout.append((f"v{i}", fmt))
            prototype += [np.dtype(fmt).itemsize, 0]
            columns.append((f"v{i}", f.values[rows]))
    dtype = np.dtype(layout)
    block = np.empty(len(rows), dtype=dtype)
    block[:] = np.array(tuple(prototype), dtype=dtype)  # the lengths and texts, in one pass
    for name, values in columns:
        block[name] = values
    return block.data.cast("B")
