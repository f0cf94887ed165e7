"""Which keys a bulk ORM statement touches: shared by the hooks that keep derived tables.

The support-year aggregate (models/stats.py) and the register's sort keys
(models/sort_keys.py) are kept current in the same transaction as the rows they
derive from. ORM unit-of-work changes name their rows; a bulk ``insert``,
``update`` or ``delete`` run through the session does not, so its hook asks
this function which case or person ids it touches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import ORMExecuteState


def touched_keys(state: ORMExecuteState, table: Any, key: str) -> set[Any] | None:
    """The values of column ``key`` in the rows a bulk statement touches.

    None when they cannot be known cheaply and safely: inline VALUES, rows
    without the key, an update that moves rows to another case or person, or a
    statement without a WHERE clause. The caller then rebuilds everything.
    An update or delete with a WHERE clause is asked beforehand which rows it
    will touch.
    """
    stmt: Any = state.statement
    params: Any = state.parameters
    rows: list[Any] = list(params) if isinstance(params, list) else [params] if params else []
    if state.is_insert:
        inline = getattr(stmt, "_values", None) or getattr(stmt, "_multi_values", None)
        if inline or not rows or any(key not in r for r in rows):
            return None
        return {r[key] for r in rows}
    values = getattr(stmt, "_values", None) or {}
    if any(getattr(c, "key", c) == key for c in values) or any(key in r for r in rows):
        return None  # rows move to another case or person
    where = getattr(stmt, "whereclause", None)
    if where is None or rows:
        return None
    return set(state.session.execute(select(table.c[key]).where(where)).scalars())
