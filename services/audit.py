"""Who is acting, the audit events every write (and every case read) leaves, and their review.

Details are JSON and never carry names, personnummer or search text: the log
is itself reviewed by people who may not see every case.

The log is a hash chain (see ``docs/audit.md``). :func:`record` only notes an
event on the session; the event is written when the caller's transaction
commits, by a ``before_commit`` listener that locks the chain head, gives each
event its id, chain position and hash, and inserts it. The lock is therefore
held only from that moment to the commit itself, so concurrent caseworkers
queue for the chain for the length of a commit, not of a whole user action;
and a transaction that rolls back never reaches the chain, so it cannot leave
a hole in it.
"""

from __future__ import annotations

import csv
import getpass
import json
import os
import re
import socket
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Table, event, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, SessionTransaction

from models import AuditEvent, Case, User, utcnow
from models.audit import GENESIS_HASH, AuditChainHead, event_hash
from models.codes import Role
from services.errors import FokusError, NotFoundError, PermissionDeniedError, ValidationError


@dataclass(frozen=True)
class Actor:
    """The person (or command-line operator) on whose behalf a service acts."""

    username: str
    role: Role
    user_id: uuid.UUID | None = None
    workstation: str = ""

    @classmethod
    def cli(cls) -> Actor:
        """Command-line access: whoever holds the database URL acts as administrator."""
        try:
            os_user = getpass.getuser()
        except (KeyError, OSError):
            os_user = "okänd"
        return cls(username=f"cli:{os_user}", role=Role.ADMIN, workstation=socket.gethostname())

    @property
    def is_cli(self) -> bool:
        """The command-line operator (no Fokus account), as made by :meth:`cli`."""
        return self.role == Role.ADMIN and self.user_id is None and self.username.startswith("cli:")


# --- actions -------------------------------------------------------------------------------

CASE_OPENED = "case_opened"
CASE_SEARCH = "case_search"
AUDIT_CASE_REVIEWED = "audit_case_reviewed"
AUDIT_EXPORTED = "audit_exported"
SESSION_LOCKED = "session_locked"
SESSION_UNLOCKED = "session_unlocked"
LOGOUT = "logout"
USER_UPDATED = "user_updated"
USER_DEACTIVATED = "user_deactivated"
USER_REACTIVATED = "user_reactivated"
USER_PASSWORD_RESET = "user_password_reset"
USER_UNLOCKED = "user_unlocked"
DB_BACKUP = "db_backup"

#: Swedish labels for the export; an action missing here is exported as its code.
ACTION_LABELS: dict[str, str] = {
    "login_success": "inloggning",
    "login_failure": "misslyckad inloggning",
    "first_run": "första start",
    CASE_OPENED: "ärende öppnat",
    CASE_SEARCH: "sökning",
    "case_list": "ärendelista",
    "case_created": "ärende skapat",
    "case_updated": "ärende ändrat",
    "case_assigned": "ärende fördelat",
    "case_assigned_past_cap": "ärende fördelat över ärendetaket",
    "case_closed": "ärende avslutat",
    "case_reopened": "ärende återöppnat",
    "case_closing_changed": "avslutsdatum eller utfall ändrat",
    "member_added": "hushållsmedlem tillagd",
    "member_ended": "hushållsmedlem avslutad",
    "person_updated": "person ändrad",
    "person_id_changed": "identitetsnummer bytt",
    "support_reason_added": "försörjningshinder registrerat",
    "support_month_added": "stödmånad registrerad",
    "note_drafted": "anteckning (utkast)",
    "open_case_holder_looked_up": "personnummer fanns i ärende utanför behörighet (enhet visad)",
    "note_edited": "anteckning ändrad",
    "note_signed": "anteckning signerad",
    "consent_added": "samtycke registrerat",
    "consent_withdrawn": "samtycke återkallat",
    "person_direction_set": "inriktning satt",
    "person_direction_ended": "inriktning avslutad",
    "person_outcome_recorded": "utfall registrerat",
    "person_outcome_removed": "utfall borttaget",
    "target_created": "utfallsmål skapat",
    "target_updated": "utfallsmål ändrat",
    "summary_previewed": "sammanfattning visad",
    "summary_printed": "sammanfattning utskriven",
    "summary_exported": "sammanfattning exporterad",
    "import": "import",
    "seed_demo": "demodata skapad",
    "unit_created": "enhet skapad",
    "user_created": "användare skapad",
    AUDIT_CASE_REVIEWED: "ärendets logg granskad",
    AUDIT_EXPORTED: "logg exporterad",
    SESSION_LOCKED: "låst efter inaktivitet",
    SESSION_UNLOCKED: "upplåst efter inaktivitet",
    LOGOUT: "utloggning",
    USER_UPDATED: "användare ändrad",
    USER_DEACTIVATED: "användare inaktiverad",
    USER_REACTIVATED: "användare återaktiverad",
    USER_PASSWORD_RESET: "lösenord återställt",
    USER_UNLOCKED: "konto upplåst",
    DB_BACKUP: "databasen säkerhetskopierad",
    "member_updated": "hushållsmedlem ändrad",
    "plan_goal_added": "planmål tillagt",
    "plan_goal_achieved": "planmål uppnått",
    "access_denied": "åtkomst nekad",
    "emergency_access": "nödåtkomst",
    "emergency_log_reviewed": "nödåtkomster granskade",
    "stand_in_granted": "ersättare utsedd",
    "stand_in_revoked": "ersättare återkallad",
    "case_shared": "ärende delat",
    "case_share_revoked": "delning återkallad",
    "staff_named": "namngiven personal tillagd",
    "staff_unnamed": "namngiven personal borttagen",
    "db_role_created": "databasroll skapad",
    "dashboard_viewed": "översikt visad",
    "follow_up_list": "uppföljningslista visad",
    "long_term_list": "långvariga-listan visad",
    "summary_batch_exported": "sammanfattningar exporterade (flera)",
    "offline_checkout": "utcheckning till bärbar dator",
    "offline_case_checked_out": "ärende utcheckat till bärbar dator",
    "offline_checkout_revoked": "utcheckning återkallad",
    "offline_sync": "synkronisering från bärbar dator",
    "offline_case_flagged": "ärende flaggat vid synkronisering",
    "offline_rekeyed": "bärbar dators kopia låst med nytt lösenord",
}


# --- recording -----------------------------------------------------------------------------

_PENDING = "fokus.audit.pending"


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    case_id: uuid.UUID | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add one audit event to the caller's transaction.

    The event is inserted when the transaction commits (and dropped if it
    rolls back, or if the savepoint it was recorded in does). It is never
    added to the session: queries in the same transaction do not see it, and
    the returned object gets its ``id``, chain position and hash only at the
    commit. Its time is the time of this call.
    """
    event_row = AuditEvent(
        event_uuid=uuid.uuid4(),
        occurred_at=utcnow(),
        actor=actor.username,
        user_id=actor.user_id,
        workstation=actor.workstation or socket.gethostname(),
        action=action,
        case_id=case_id,
        detail=json.dumps(detail, default=str, ensure_ascii=False, sort_keys=True),
    )
    owner = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((event_row, owner))
    return event_row


def record_case_opened(session: Session, actor: Actor, case_id: uuid.UUID) -> AuditEvent:
    """A case was shown to ``actor`` (the read the access review is mostly about)."""
    return record(session, actor, CASE_OPENED, case_id=case_id)


def record_search(
    session: Session, actor: Actor, *, rows: int, filters: Iterable[str] = ()
) -> AuditEvent:
    """A settled register search: how many rows and which filters, never the text typed.

    ``filters`` are filter *names* ("text", "status", "focus" …); call this
    once the user has stopped typing, not per keystroke.
    """
    return record(session, actor, CASE_SEARCH, rows=rows, filters=sorted(set(filters)))


def _within(owner: SessionTransaction | None, ended: SessionTransaction) -> bool:
    node = owner
    while node is not None:
        if node is ended:
            return True
        node = node.parent
    return owner is None and ended.parent is None


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """Events recorded in a rolled-back transaction or savepoint are never written."""
    pending = session.info.get(_PENDING)
    if not pending:
        return
    kept = [(e, owner) for e, owner in pending if not _within(owner, previous_transaction)]
    if kept:
        session.info[_PENDING] = kept
    else:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "before_commit")
def _chain_on_commit(session: Session) -> None:
    """Append the transaction's events to the chain, as late as possible.

    Everything else is flushed first so that the chain lock is taken only
    for the audit rows and the commit that follows.
    """
    if session.in_nested_transaction():
        return  # a savepoint being released: its events go with the outer commit
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    append_to_chain(session, [e for e, _ in pending])


_EVENTS = cast(Table, AuditEvent.__table__)
_PG_CHUNK = 500  # rows in one multi-row INSERT: 12 parameters each, under PostgreSQL's 65,535
_HEAD = cast(Table, AuditChainHead.__table__)

# One round trip on PostgreSQL: lock the head row, reserve the positions and
# take the ids. nextval runs per joined row, so only once the UPDATE has the lock.
_PG_RESERVE = text(
    "WITH head AS (UPDATE audit_chain_head SET chain_seq = chain_seq + :n WHERE id = 1 "
    "RETURNING chain_seq, chain_hash) "
    "SELECT head.chain_seq, head.chain_hash, "
    "nextval(pg_get_serial_sequence('audit_event', 'id')) "
    "FROM head CROSS JOIN generate_series(1, :n)"
)


def _reserve(session: Session, count: int) -> tuple[int, str, list[int]] | None:
    """Lock the head and reserve ``count`` positions and ids: (last position, hash, ids).

    None when the head row is missing. The ids are taken under the lock, so
    id order is chain order for every event Fokus writes.
    """
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(_PG_RESERVE, {"n": count}).all()
        if not rows:
            return None
        return int(rows[0][0]) - count, str(rows[0][1]), sorted(int(r[2]) for r in rows)
    row = session.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(chain_seq=_HEAD.c.chain_seq + count)
        .returning(_HEAD.c.chain_seq, _HEAD.c.chain_hash)
    ).one_or_none()
    if row is None:
        return None
    # SQLite: the UPDATE took the database's write lock, so max(id) is stable.
    top = int(session.scalar(select(func.coalesce(func.max(_EVENTS.c.id), 0))) or 0)
    return int(row[0]) - count, str(row[1]), list(range(top + 1, top + 1 + count))


def _restore_head(session: Session) -> None:
    """Recreate a missing head row from the last chained event (or the empty chain)."""
    last = session.execute(
        select(_EVENTS.c.chain_seq, _EVENTS.c.chain_hash, _EVENTS.c.id)
        .where(_EVENTS.c.chain_seq.is_not(None))
        .order_by(_EVENTS.c.chain_seq.desc())
        .limit(1)
    ).first()
    seq, hash_, event_id = (last[0], last[1], last[2]) if last else (0, GENESIS_HASH, None)
    session.execute(insert(_HEAD).values(id=1, chain_seq=seq, chain_hash=hash_, event_id=event_id))


def append_to_chain(session: Session, events: Sequence[AuditEvent]) -> None:
    """Lock the chain head, hash ``events`` onto the chain in order and insert them.

    Public for the rare caller that must write events without a commit of
    its own; :func:`record` is the normal way in. The head row stays locked
    (PostgreSQL row lock; SQLite write lock) until the transaction ends, so
    this runs two statements on PostgreSQL and nothing else: reserve, then
    head update and one multi-row INSERT together (Core, not the unit of work: the events are not
    added to the session and stay detached objects with every column set).
    """
    if not events:
        return
    reserved = _reserve(session, len(events))
    if reserved is None:
        _restore_head(session)
        reserved = _reserve(session, len(events))
        assert reserved is not None
    last_seq, prev, ids = reserved
    rows: list[dict[str, Any]] = []
    for offset, (ev, event_id) in enumerate(zip(events, ids, strict=True), start=1):
        ev.id = event_id
        ev.chain_seq = last_seq + offset
        ev.chain_prev = prev
        ev.chain_hash = event_hash(
            chain_seq=ev.chain_seq,
            event_id=event_id,
            event_uuid=ev.event_uuid,
            occurred_at=ev.occurred_at,
            actor=ev.actor,
            user_id=ev.user_id,
            workstation=ev.workstation,
            action=ev.action,
            case_id=ev.case_id,
            detail=ev.detail,
            chain_prev=prev,
        )
        prev = ev.chain_hash
        rows.append({c.key: getattr(ev, c.key) for c in _EVENTS.columns})
    set_head = update(_HEAD).where(_HEAD.c.id == 1).values(chain_hash=prev, event_id=ids[-1])
    if session.get_bind().dialect.name == "postgresql" and len(rows) <= _PG_CHUNK:
        # One round trip less while holding the lock: the head update rides along
        # with the (last) multi-row INSERT as a data-modifying CTE.
        session.execute(insert(_EVENTS).values(rows).add_cte(set_head.cte("set_head")))
    else:
        # SQLite, or a large batch (an offline laptop's events at sync): executemany
        # compiles the INSERT once instead of a statement with thousands of parameters.
        session.execute(set_head)
        session.execute(insert(_EVENTS), rows)


# --- verification ----------------------------------------------------------------------------


class AuditChainBrokenError(FokusError):
    """The audit log was altered or events were removed (exit code 1)."""


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of walking the chain.

    ``event_id`` is the event the message names: the altered event, or for a
    removal the last intact event before the hole (None when the hole is at
    the very start). ``position`` is the chain position where the walk stopped.
    """

    ok: bool
    checked: int
    head: str
    message: str
    event_id: int | None = None
    position: int | None = None


_VERIFY_COLUMNS = (
    AuditEvent.id,
    AuditEvent.event_uuid,
    AuditEvent.occurred_at,
    AuditEvent.actor,
    AuditEvent.user_id,
    AuditEvent.workstation,
    AuditEvent.action,
    AuditEvent.case_id,
    AuditEvent.detail,
    AuditEvent.chain_seq,
    AuditEvent.chain_prev,
    AuditEvent.chain_hash,
)


def _missing_after(event_id: int | None) -> str:
    return f"händelse efter {event_id} saknas" if event_id else "den första händelsen saknas"


def verify_chain(session: Session, *, expected_head: str | None = None) -> VerifyResult:
    """Walk the whole chain in position order and recompute every hash.

    Finds an altered event (its hash no longer matches its fields, or the
    next event no longer points at it), a removed one (a hole in the chain
    positions, or a tail shorter than the head row says) and a row inserted
    without a chain position. ``expected_head``, a hash printed earlier by
    ``audit head`` and kept outside the database, must still be in the
    chain: that catches a rewrite of the whole tail, which the other checks
    cannot. Reads the head row first: under concurrent writers the chain
    then always reaches at least that far.
    """
    head_row = session.execute(
        select(AuditChainHead.chain_seq, AuditChainHead.chain_hash).where(AuditChainHead.id == 1)
    ).first()
    seen_expected = expected_head is None or expected_head == GENESIS_HASH
    prev_hash, prev_id, expected_seq, checked = GENESIS_HASH, None, 1, 0

    def bad(message: str, event_id: int | None) -> VerifyResult:
        return VerifyResult(False, checked, prev_hash, message, event_id, expected_seq)

    query = (
        select(*_VERIFY_COLUMNS)
        .where(AuditEvent.chain_seq.is_not(None))
        .order_by(AuditEvent.chain_seq)
        .execution_options(yield_per=2000)
    )
    with session.execute(query) as rows:  # closes the server-side cursor on an early return
        for r in rows:
            if r.chain_seq > expected_seq:
                return bad(_missing_after(prev_id), prev_id)
            computed = event_hash(
                chain_seq=r.chain_seq,
                event_id=r.id,
                event_uuid=r.event_uuid,
                occurred_at=r.occurred_at,
                actor=r.actor,
                user_id=r.user_id,
                workstation=r.workstation,
                action=r.action,
                case_id=r.case_id,
                detail=r.detail,
                chain_prev=r.chain_prev or "",
            )
            if r.chain_seq < expected_seq or computed != r.chain_hash:
                return bad(f"händelse {r.id} har ändrats", r.id)
            if r.chain_prev != prev_hash:
                # This event is intact but no longer follows its predecessor: the
                # predecessor was changed and its hash recomputed to match.
                return bad(f"händelse {prev_id or r.id} har ändrats", prev_id or r.id)
            at_head = head_row is not None and r.chain_seq == head_row.chain_seq
            if at_head and head_row is not None and r.chain_hash != head_row.chain_hash:
                # The last event was changed and rehashed; the head row still has its hash.
                return bad(f"händelse {r.id} har ändrats", r.id)
            if not seen_expected and r.chain_hash == expected_head:
                seen_expected = True
            prev_hash, prev_id = r.chain_hash, r.id
            expected_seq += 1
            checked += 1
    if head_row is not None and head_row.chain_seq >= expected_seq:
        return bad(_missing_after(prev_id), prev_id)
    if not seen_expected:
        return bad(
            "det sparade kedjehuvudet finns inte i loggen: loggen har skrivits om efter det",
            None,
        )
    loose = session.scalar(
        select(AuditEvent.id).where(AuditEvent.chain_seq.is_(None)).order_by(AuditEvent.id)
    )
    if loose is not None:
        return bad(f"händelse {loose} saknar plats i kedjan (skrevs inte av Fokus)", loose)
    return VerifyResult(True, checked, prev_hash, f"loggen är hel: {checked} händelser")


def head(session: Session) -> str:
    """The hash of the last event in the chain (all zeros for an empty log).

    Taken from the events themselves, not the head row, so what is copied
    outside the database is what :func:`verify_chain` will look for.
    """
    last = session.scalar(
        select(AuditEvent.chain_hash)
        .where(AuditEvent.chain_seq.is_not(None))
        .order_by(AuditEvent.chain_seq.desc())
        .limit(1)
    )
    return last or GENESIS_HASH


# --- review and export -----------------------------------------------------------------------


def _local_tz() -> tzinfo:
    try:
        return ZoneInfo("Europe/Stockholm")
    except ZoneInfoNotFoundError:  # Windows without the tzdata package
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC


LOCAL_TZ = _local_tz()


def local_today() -> date:
    """Today's date in Sweden: the day review periods are counted in, whatever the OS zone."""
    return datetime.now(LOCAL_TZ).date()


@dataclass(frozen=True)
class AuditRow:
    """One event as a reviewer sees it: no hashes, the case by its number."""

    id: int
    occurred_at: datetime
    actor: str
    workstation: str
    action: str
    case_id: uuid.UUID | None
    case_number: str | None
    detail: dict[str, Any]

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(self.action, self.action)


def _review_unit(session: Session, actor: Actor) -> uuid.UUID | None:
    """Refuse anyone but an arbetsledare or the command line; return the leader's unit.

    An arbetsledare reviews their own unit (item 1 of the access matrix); an
    actor without a user record, like the command line, is not tied to one.
    """
    if actor.is_cli:
        return None
    if actor.role != Role.TEAM_LEADER:
        raise PermissionDeniedError("bara en arbetsledare får granska och exportera loggen")
    if actor.user_id is None:
        return None
    unit_id = session.scalar(select(User.unit_id).where(User.id == actor.user_id))
    if unit_id is None:
        raise PermissionDeniedError("arbetsledaren finns inte i databasen")
    return unit_id


_HIDDEN_KEYS = frozenset(
    {"text", "query", "search", "search_text", "name", "first_name", "last_name",
     "full_name", "personal_id", "personnummer", "address"}
)  # fmt: skip
# Standalone runs only: the groups of a UUID ("12345678-1234-…") are not personnummer.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z-])(?:\d{2})?\d{6}[-+]?\d{4}(?![0-9A-Za-z-])")


def _safe_detail(raw: str) -> dict[str, Any]:
    """The detail JSON without keys or values that could hold text typed about a person.

    Services already keep such things out (see :func:`record`); this is the
    second lock on the door for a log that leaves the system as a file.
    """
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {"ogiltig": True}
    if not isinstance(value, dict):
        return {}
    return {
        k: _ID_NUMBER.sub("[dolt]", v) if isinstance(v, str) else v
        for k, v in value.items()
        if k.lower() not in _HIDDEN_KEYS
    }


def _rows(session: Session, query: Any) -> Iterator[AuditRow]:
    with session.execute(query.execution_options(yield_per=2000)) as result:
        for ev, number in result:
            yield AuditRow(
                id=ev.id,
                occurred_at=ev.occurred_at,
                actor=ev.actor,
                workstation=ev.workstation,
                action=ev.action,
                case_id=ev.case_id,
                case_number=number,
                detail=_safe_detail(ev.detail),
            )


def case_log(session: Session, actor: Actor, case_id: uuid.UUID) -> list[AuditRow]:
    """Every event about one case, oldest first, for an arbetsledare; the review is audited."""
    unit_id = _review_unit(session, actor)
    case = session.get(Case, case_id)
    if case is not None and unit_id is not None and case.unit_id != unit_id:
        raise PermissionDeniedError("ärendet hör till en annan enhet")
    if case is None and unit_id is not None:
        raise NotFoundError("ärendet finns inte")
    query = (
        select(AuditEvent, Case.case_number)
        .outerjoin(Case, Case.id == AuditEvent.case_id)
        .where(AuditEvent.case_id == case_id)
        .order_by(AuditEvent.id)
    )
    rows = list(_rows(session, query))
    record(session, actor, AUDIT_CASE_REVIEWED, case_id=case_id, rows=len(rows))
    return rows


CSV_HEADER = ("löpnummer", "tid", "användare", "arbetsstation", "åtgärd", "ärende", "detaljer")


def _cell(value: str) -> str:
    """Text a spreadsheet will not run as a formula (a workstation name is chosen by its owner)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _period(start: date, end: date) -> tuple[datetime, datetime]:
    if end < start:
        raise ValidationError.single("period", "slutdatum före startdatum")
    lo = datetime.combine(start, time.min, LOCAL_TZ)
    hi = datetime.combine(end + timedelta(days=1), time.min, LOCAL_TZ)
    return lo.astimezone(UTC), hi.astimezone(UTC)


def export_period_csv(session: Session, actor: Actor, start: date, end: date, path: Path) -> int:
    """Write the log of ``start``..``end`` (whole Swedish days) to ``path``; return the count.

    For the regular access review (logguppföljning): ``;``-separated UTF-8
    with a BOM, as Excel in Sweden opens it; Swedish column names; times in
    Swedish local time; the case as its number; no search text, names or
    personnummer. An arbetsledare gets the events on their unit's cases and
    by their unit's staff. The file is written under a temporary name and
    renamed, so a failed export leaves no half file; the export is audited.
    """
    unit_id = _review_unit(session, actor)
    lo, hi = _period(start, end)
    query = (
        select(AuditEvent, Case.case_number)
        .outerjoin(Case, Case.id == AuditEvent.case_id)
        .where(AuditEvent.occurred_at >= lo, AuditEvent.occurred_at < hi)
        .order_by(AuditEvent.id)
    )
    if unit_id is not None:
        query = query.outerjoin(User, User.id == AuditEvent.user_id).where(
            or_(Case.unit_id == unit_id, User.unit_id == unit_id)
        )
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    count = 0
    try:
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            out = csv.writer(fh, delimiter=";", lineterminator="\r\n")
            out.writerow(CSV_HEADER)
            for row in _rows(session, query):
                case = row.case_number or (str(row.case_id) if row.case_id else "")
                out.writerow(
                    (
                        row.id,
                        row.occurred_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S"),
                        _cell(row.actor),
                        _cell(row.workstation),
                        row.action_label,
                        case,
                        json.dumps(row.detail, ensure_ascii=False, sort_keys=True),
                    )
                )
                count += 1
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise FokusError(f"loggen kunde inte skrivas till {path}: {exc.strerror}") from exc
    record(
        session,
        actor,
        AUDIT_EXPORTED,
        period_from=start.isoformat(),
        period_to=end.isoformat(),
        rows=count,
    )
    return count
