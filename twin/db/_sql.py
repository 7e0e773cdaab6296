"""SQL text kept in ``.sql`` files next to the code that runs it."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def sql_text(name: str) -> str:
    """Return the text of ``twin/db/sql/<name>.sql``.

    Parameters
    ----------
    name
        File stem inside ``twin/db/sql``.

    Returns
    -------
    str
        The SQL text.
    """
    return resources.files("twin.db").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
