"""The bookkeeping shared by the tables derived per case and kept in the same transaction.

The register's sort keys (models/sort_keys.py), the search terms
(models/search_terms.py), the members' birth dates (models/member_births.py)
and the follow-ups due (models/follow_ups.py) each hold rows per case computed
from other tables, and each is kept current in the transaction that changes
those tables: its own session hooks note which cases (or persons, whose cases
are looked up when it syncs) a flush or a DML statement touched, and
:meth:`CaseRows.sync` recomputes exactly their rows before commit, or when a
reader asks. What is generic lives here, once: the pending sets in
``session.info``, the whole-table rebuild after a statement that cannot be
traced, re-queueing what a rolled-back savepoint undid, forgetting everything
when the outer transaction ends, and registering the hooks once per process.
What each table reacts to (which columns, which statements) stays in its module.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from models.case import HouseholdMember

CHUNK = 500

Refresh = Callable[[Session, set[Any]], None]
Rebuild = Callable[[Session], None]
Expand = Callable[[Session, set[Any]], set[Any]]


def chunks(ids: Iterable[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    """``ids`` sorted, in lists small enough for an ``IN`` list."""
    values = sorted(set(ids))
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


def old_and_new(obj: Any, attr: str) -> set[Any]:
    """An attribute's value before and after this flush (a row moved names both)."""
    history = sa_inspect(obj).attrs[attr].history
    values = {getattr(obj, attr)}
    values.update(history.deleted or ())
    values.update(history.added or ())
    values.discard(None)
    return values


def changed(obj: Any, columns: Iterable[str]) -> bool:
    """Whether any of these attributes has a change not yet flushed."""
    attrs = sa_inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in columns)


class CaseRows:
    """Which cases of one derived table this session's transaction must recompute.

    ``refresh(session, case_ids)`` recomputes those cases' rows, ``rebuild(session)``
    the whole table (and calls :meth:`loaded`); ``expand``, when given, widens the
    pending cases before a refresh (a note's correction also answers the note it
    corrects, in another case).
    """

    def __init__(
        self, name: str, *, refresh: Refresh, rebuild: Rebuild, expand: Expand | None = None
    ) -> None:
        self._cases_key = f"fokus_{name}_cases"
        self._persons_key = f"fokus_{name}_persons"
        self._all_key = f"fokus_{name}_all"
        self._done_key = f"fokus_{name}_done"  # refreshed in this transaction
        self._refresh = refresh
        self._rebuild = rebuild
        self._expand = expand
        self._installed = False

    def _set(self, session: Session, key: str) -> set[Any]:
        value = session.info.setdefault(key, set())
        assert isinstance(value, set)
        return value

    def cases(self, session: Session) -> set[Any]:
        """The cases noted as touched and not yet recomputed."""
        return self._set(session, self._cases_key)

    def persons(self, session: Session) -> set[Any]:
        """The persons noted as changed; their cases are looked up at :meth:`sync`."""
        return self._set(session, self._persons_key)

    def mark_all(self, session: Session) -> None:
        """A statement whose rows cannot be told: rebuild the whole table at sync."""
        session.info[self._all_key] = True

    def loaded(self, session: Session) -> None:
        """The whole table was just written from its definition: nothing is pending."""
        self.cases(session).clear()
        self.persons(session).clear()
        session.info.pop(self._all_key, None)

    def sync(self, session: Session) -> None:
        """Bring this session's rows up to date now (before commit; readers may call it)."""
        session.flush()
        if session.info.pop(self._all_key, False):
            self._rebuild(session)
            return
        cases, persons = self.cases(session), self.persons(session)
        if persons:
            for part in chunks(persons):
                cases.update(
                    session.scalars(
                        select(HouseholdMember.case_id).where(HouseholdMember.person_id.in_(part))
                    )
                )
            persons.clear()
        if cases:
            pending = self._expand(session, cases) if self._expand else set(cases)
            cases.clear()
            self._set(session, self._done_key).update(pending)
            self._refresh(session, pending)

    def _before_commit(self, session: Session) -> None:
        self.sync(session)

    def _after_transaction_end(self, session: Session, transaction: Any) -> None:
        if transaction.parent is None:
            for key in (self._cases_key, self._persons_key, self._done_key):
                self._set(session, key).clear()
            session.info.pop(self._all_key, None)

    def _after_soft_rollback(self, session: Session, previous_transaction: Any) -> None:
        """A savepoint rolled back: what was refreshed in this transaction is refreshed again."""
        if session.in_transaction():
            self.cases(session).update(self._set(session, self._done_key))

    def install(
        self,
        *,
        before_flush: Callable[..., None] | None = None,
        after_flush: Callable[..., None] | None = None,
        do_orm_execute: Callable[..., None] | None = None,
    ) -> None:
        """Register the table's own hooks and the shared ones, once per process."""
        if self._installed:
            return
        if before_flush is not None:
            event.listen(Session, "before_flush", before_flush)
        if after_flush is not None:
            event.listen(Session, "after_flush", after_flush)
        if do_orm_execute is not None:
            event.listen(Session, "do_orm_execute", do_orm_execute)
        event.listen(Session, "before_commit", self._before_commit)
        event.listen(Session, "after_soft_rollback", self._after_soft_rollback)
        event.listen(Session, "after_transaction_end", self._after_transaction_end)
        self._installed = True
