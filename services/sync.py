"""Synchronising a laptop copy with the central database: a three-way merge per field.

For every synchronised row (see :data:`services.offline.CASE_TABLES`) the
merge compares three versions: the *base* kept on the laptop at checkout
(or at the last sync), *yours* (the laptop now) and *theirs* (central now).

* a row only one side has, and the base has not: new on that side, copied
  to the other (UUID keys, so new notes and cases never collide); a new case
  gets its real number here, and a person in it with an open case elsewhere
  is flagged; a new person whose personnummer central already knows becomes
  that person on both sides;
* a field changed on one side only: that side's value goes to the other;
* a field changed on both sides to different values: a conflict (base,
  theirs, yours) in the laptop's conflict list; central keeps theirs, the
  laptop keeps yours, nothing is overwritten until the user chooses;
* a row deleted on one side and unchanged on the other: deleted on both;
  deleted on one side and changed on the other: a conflict, nothing deleted.

Signed notes are immutable on both sides (a trigger refuses changes), so they
merge as new rows only. Audit events made offline are appended to the central
hash chain through :func:`services.audit.append_to_chain`, once each (their
``event_uuid`` is unique centrally).

Order and idempotence: everything central happens in one transaction, then
everything local in one. A sync interrupted before the central commit changed
nothing; one interrupted between the two commits is finished by the next run:
central then already equals the laptop for every pushed field ("changed the
same on both sides"), new rows exist on both sides by id, audit events are
found by their uuid, and a new case keeps the number central gave it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Integer,
    Table,
    Text,
    and_,
    column,
    delete,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy import values as sql_values
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import (
    AuditEvent,
    Case,
    OfflineCheckout,
    OfflineCheckoutCase,
    OfflineLocalBase,
    OfflineLocalChange,
    OfflineLocalConflict,
    OfflineLocalState,
    Person,
    User,
    utcnow,
)
from models.codes import Role
from services.audit import append_to_chain, record
from services.auth import WRONG_CREDENTIALS, LoginError
from services.cases import allocate_case_numbers, format_case_number, is_provisional_case_number
from services.db import Database
from services.errors import FokusError, NotFoundError, PermissionDeniedError, ValidationError
from services.household import open_case_elsewhere
from services.offline import (
    CASE_TABLES,
    STAMP,
    TABLES_BY_NAME,
    Row,
    SyncTable,
    case_rows,
    central_index,
    change_mark,
    chunks,
    copy_reference_data,
    ensure_people_and_units,
    from_json,
    is_postgres,
    local_actor,
    log_change,
    logged_changes,
    parents_first,
    referenced_users,
    row_key,
    rows_by_keys,
    select_in,
    split_stamps,
    stamp_sql,
    to_json,
)
from services.persons import find_person_brief
from services.pg_roles import LOGIN_PREFIX
from services.role_login import connect_central, login_central

Progress = Callable[[str], None]

#: Field name of a conflict about a whole row (deleted on one side, changed on the other).
ROW_FIELD = "(rad)"
#: Field name of a conflict about a row both sides added under different ids (same month).
DUPLICATE_FIELD = "(dubblett)"

TABLE_LABELS = {
    "person": "person",
    "person_identifier": "identitetsnummer",
    "fs_case": "ärende",
    "household_member": "hushållsmedlem",
    "support_reason": "försörjningshinder",
    "support_month": "stödmånad",
    "consent": "samtycke",
    "plan_goal": "planmål",
    "person_outcome": "utfall",
    "person_direction": "inriktning",
    "contact_entry": "anteckning",
    "contact_entry_member": "berörd person",
}


class SyncRaceError(FokusError):
    """Someone wrote a row this sync was merging, while it ran: nothing is lost (exit 1).

    Raised before the central commit (nothing changed anywhere), or after it
    (central holds the pushed rows; the next run finishes the job, like a sync
    interrupted between its two commits)."""


def _checkpoint(stage: str) -> None:
    """A seam for tests that interrupt a sync at ``stage`` (does nothing in the app)."""


@dataclass(frozen=True)
class Conflict:
    """A field changed differently on both sides; values as JSON (None = missing)."""

    id: uuid.UUID
    table: str
    row_key: str
    field: str
    case_number: str | None
    base: Any
    theirs: Any
    yours: Any

    @property
    def whole_row(self) -> bool:
        """Deleted on one side, changed on the other (values are whole rows, None = gone)."""
        return self.field == ROW_FIELD

    def shown(self, side: str) -> str:
        """One side's value as text for people: ``side`` is base, theirs or yours."""
        value = getattr(self, side)
        if not self.whole_row:
            return "" if value is None else str(value)
        if value is None:
            return "borttagen"
        if not isinstance(value, dict) or not isinstance(self.base, dict):
            return str(value)  # a conflict stored by an older version: "finns", "ändrad"
        if side == "base":
            return "fanns"
        changed = [
            f"{k} = {v}"
            for k, v in value.items()
            if k not in _BOOKKEEPING | {"updated_at", "updated_by"} and self.base.get(k) != v
        ]
        return "ändrad: " + ", ".join(changed) if changed else "finns kvar"

    def describe(self) -> str:
        where = self.case_number or "-"
        what = TABLE_LABELS.get(self.table, self.table)
        if self.whole_row:
            return (
                f"{where}: {what} {self.field}: central {self.shown('theirs')}, "
                f"din {self.shown('yours')}"
            )
        return (
            f"{where}: {what} {self.field}: bas {self.base!r}, central {self.theirs!r}, "
            f"din {self.yours!r}"
        )


@dataclass
class SyncResult:
    """What a sync did; ``conflicts`` are all unresolved ones after it."""

    pushed: int = 0
    pulled: int = 0
    new_cases: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    new_conflicts: int = 0
    flags: list[str] = field(default_factory=list)
    audit_uploaded: int = 0
    purged_cases: int = 0
    status: str = "active"  # "active", "expired" or "revoked"
    compared: int = 0  # rows read in full and merged (the rest changed on neither side)
    rekeyed: bool = False  # the laptop file now opens with the new central password
    # Checked-out cases the user's role can no longer see centrally (reassigned, say):
    # changed on the laptop, kept there with the changes (their numbers); else removed.
    kept_cases: list[str] = field(default_factory=list)
    removed_cases: int = 0

    def summary(self) -> str:
        lines = [
            f"synkroniserat: {self.pushed} ändringar skickade, {self.pulled} hämtade, "
            f"{self.audit_uploaded} logghändelser uppladdade"
        ]
        for provisional, real in self.new_cases:
            lines.append(f"nytt ärende {provisional} har fått numret {real}")
        lines.extend(f"flagga: {f}" for f in self.flags)
        if self.removed_cases:
            lines.append(
                f"{self.removed_cases} ärenden som du inte längre kan öppna centralt togs bort "
                "från den här datorn (de hade inga ändringar här)"
            )
        if self.kept_cases:
            lines.append(
                f"{len(self.kept_cases)} ärenden kan du inte längre öppna centralt "
                f"({', '.join(self.kept_cases)}): dina ändringar i dem finns kvar på den här "
                "datorn och skickas när du får åtkomst igen; kontakta arbetsledaren"
            )
        if self.status != "active":
            why = "återkallad" if self.status == "revoked" else "utgången"
            if self.kept_cases:
                lines.append(
                    f"utcheckningen är {why}, men ärendena tas inte bort från datorn förrän "
                    "ändringarna ovan har kunnat skickas"
                )
            else:
                lines.append(
                    f"utcheckningen är {why}: {self.purged_cases} ärenden borttagna lokalt"
                )
        if self.rekeyed:
            lines.append("den lokala filen är nu låst med det nya lösenordet")
        if self.conflicts:
            lines.append(f"{len(self.conflicts)} konflikter att lösa (inget har skrivits över):")
            lines.extend("  " + c.describe() for c in self.conflicts)
        return "\n".join(lines)


# --- reading ------------------------------------------------------------------------------------


def _json_row(row: Row) -> dict[str, Any]:
    return {k: to_json(v) for k, v in row.items()}


def _base_stamps(session: Session) -> dict[str, dict[str, str | None]]:
    """Per table, every base row's key and central stamp (no values: cheap)."""
    out: dict[str, dict[str, str | None]] = {spec.name: {} for spec in CASE_TABLES}
    base_t = cast(Table, OfflineLocalBase.__table__)
    rows = session.connection().execute(
        select(base_t.c.table_name, base_t.c.row_key, base_t.c.stamp)
    )
    for name, key, stamp in rows.all():
        if name in out:
            out[name][key] = stamp
    return out


def _base_rows(session: Session, keys: dict[str, set[str]]) -> dict[str, dict[str, dict[str, Any]]]:
    """The base values of just these rows."""
    out: dict[str, dict[str, dict[str, Any]]] = {spec.name: {} for spec in CASE_TABLES}
    base_t = cast(Table, OfflineLocalBase.__table__)
    for name, wanted in keys.items():
        for part in chunks(sorted(wanted)):
            for key, data in session.execute(
                select(base_t.c.row_key, base_t.c.data).where(
                    base_t.c.table_name == name, base_t.c.row_key.in_(list(part))
                )
            ):
                out[name][key] = json.loads(data)
    return out


def _rows_in(session: Session, table: Table, column: str, ids: list[Any]) -> list[Row]:
    out: list[Row] = []
    for part in chunks(sorted(set(ids), key=str)):
        out.extend(
            dict(r._mapping)
            for r in session.execute(select(table).where(table.c[column].in_(part)))
        )
    return out


def pending_changes(local: Database) -> bool:
    """Quick check (one query) for anything to synchronise: every write on the laptop is
    audited, so an audit event not yet uploaded means something is waiting."""
    with local.begin() as s:
        last = s.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
        return last is not None and last > _uploaded_through(s)


def has_unsynced_changes(session: Session) -> bool:
    """True when the laptop holds something central has not: a row written since the last
    sync (the change log), an unresolved conflict, or an audit event not yet uploaded."""
    if session.get(OfflineLocalState, 1) is None:
        return False
    if session.scalar(select(OfflineLocalChange.seq).limit(1)) is not None:
        return True
    if (
        session.scalar(
            select(OfflineLocalConflict.id)
            .where(OfflineLocalConflict.resolved_at.is_(None))
            .limit(1)
        )
        is not None
    ):
        return True
    last_event = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    return last_event is not None and last_event > _uploaded_through(session)


# --- the merge ----------------------------------------------------------------------------------


@dataclass
class _Plan:
    central_insert: dict[str, list[Row]] = field(default_factory=dict)
    central_update: list[tuple[SyncTable, Row, dict[str, Any], int | None]] = field(
        default_factory=list
    )
    central_delete: list[tuple[SyncTable, Row]] = field(default_factory=list)
    local_insert: dict[str, list[Row]] = field(default_factory=dict)
    local_update: list[tuple[SyncTable, Row, dict[str, Any]]] = field(default_factory=list)
    local_delete: list[tuple[SyncTable, Row]] = field(default_factory=list)
    base: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    conflicts: list[tuple[str, str, str, Any, Any, Any, uuid.UUID | None]] = field(
        default_factory=list
    )
    # Local versions to set after the central updates: (table, key) -> central row.
    versions: dict[tuple[str, str], Row] = field(default_factory=dict)
    # Central's stamp of each row as read (PostgreSQL: updates and deletes are
    # conditional on it, so a row changed meanwhile stops the sync instead of being lost).
    central_stamp: dict[str, dict[str, str | None]] = field(default_factory=dict)


def _case_of(spec: SyncTable, row: Row | None) -> uuid.UUID | None:
    if row is None:
        return None
    if spec.name == "fs_case":
        return cast(uuid.UUID, row["id"])
    value = row.get("case_id")
    return value if isinstance(value, uuid.UUID) else None


def _key_values(spec: SyncTable, row: Row) -> Row:
    return {k: row[k] for k in spec.key}


def _merge_table(
    spec: SyncTable,
    base: dict[str, dict[str, Any]],
    mine: dict[str, Row],
    theirs: dict[str, Row],
    plan: _Plan,
) -> None:
    fields = [c.name for c in spec.table.columns if c.name not in spec.key]
    compared = [f for f in fields if f not in spec.ignore]
    for key in sorted(set(base) | set(mine) | set(theirs)):
        b, l_row, c_row = base.get(key), mine.get(key), theirs.get(key)
        if (
            b is not None
            and l_row is not None
            and c_row is not None
            and all(l_row[f] == c_row[f] and b.get(f) == to_json(c_row[f]) for f in compared)
        ):
            # The common case: nothing changed on either side (no JSON for the whole row).
            if spec.versioned and l_row.get("version") != c_row.get("version"):
                plan.versions[(spec.name, key)] = c_row
            plan.base[(spec.name, key)] = b
            continue
        lj = _json_row(l_row) if l_row is not None else None
        cj = _json_row(c_row) if c_row is not None else None
        case_id = _case_of(spec, l_row) or _case_of(spec, c_row)
        if b is None:
            if l_row is not None and c_row is None:
                plan.central_insert.setdefault(spec.name, []).append(l_row)
                plan.base[(spec.name, key)] = cast(dict[str, Any], lj)
            elif c_row is not None and l_row is None:
                plan.local_insert.setdefault(spec.name, []).append(c_row)
                plan.base[(spec.name, key)] = cast(dict[str, Any], cj)
            elif l_row is not None and c_row is not None:
                # Both have a row the base lacks: our own push from an interrupted sync.
                assert lj is not None and cj is not None
                adopt = {f: c_row[f] for f in fields if lj.get(f) != cj.get(f)}
                if adopt:
                    plan.local_update.append((spec, _key_values(spec, l_row), adopt))
                plan.base[(spec.name, key)] = cj
            continue
        if l_row is None and c_row is None:
            continue  # deleted on both sides
        if l_row is None:
            assert cj is not None and c_row is not None
            if all(cj.get(f) == b.get(f) for f in compared):
                plan.central_delete.append((spec, _key_values(spec, c_row)))
            else:
                # Values: the whole row (None = deleted), so either side can be restored.
                plan.conflicts.append((spec.name, key, ROW_FIELD, b, cj, None, case_id))
                plan.base[(spec.name, key)] = b
            continue
        if c_row is None:
            assert lj is not None
            if all(lj.get(f) == b.get(f) for f in compared):
                plan.local_delete.append((spec, _key_values(spec, l_row)))
            else:
                plan.conflicts.append((spec.name, key, ROW_FIELD, b, None, lj, case_id))
                plan.base[(spec.name, key)] = b
            continue
        assert lj is not None and cj is not None
        new_base = dict(cj)
        push: dict[str, Any] = {}
        pull: dict[str, Any] = {}
        for f in compared:
            bv, lv, cv = b.get(f), lj.get(f), cj.get(f)
            if lv == cv:
                continue
            if lv == bv:
                pull[f] = c_row[f]
            elif cv == bv:
                push[f] = l_row[f]
                new_base[f] = lv
            else:
                new_base[f] = bv  # stays a conflict until the user chooses
                if f not in spec.quiet:
                    plan.conflicts.append((spec.name, key, f, bv, cv, lv, case_id))
        if push:
            for f in ("updated_at", "updated_by"):
                if f in l_row:
                    push[f] = l_row[f]
            plan.central_update.append(
                (
                    spec,
                    _key_values(spec, c_row),
                    push,
                    c_row.get("version") if spec.versioned else None,
                )
            )
        if pull:
            for f in ("updated_at", "updated_by"):
                if f in c_row:
                    pull[f] = c_row[f]
            plan.local_update.append((spec, _key_values(spec, l_row), pull))
        if spec.versioned and (push or l_row.get("version") != c_row.get("version")):
            plan.versions[(spec.name, key)] = c_row
        plan.base[(spec.name, key)] = new_base


_PERSON_REFS = (
    "person_identifier",
    "household_member",
    "support_reason",
    "consent",
    "plan_goal",
    "person_outcome",
    "person_direction",
    "contact_entry_member",
)


def _remap_persons(
    cs: Session,
    base: dict[str, dict[str, dict[str, Any]]],
    mine: dict[str, dict[str, Row]],
    theirs: dict[str, dict[str, Row]],
) -> dict[uuid.UUID, uuid.UUID]:
    """New laptop persons whose personnummer central knows become that central person."""
    candidates = {
        r["personal_id"]: r["id"]
        for k, r in mine["person"].items()
        if k not in base["person"] and k not in theirs["person"] and r["personal_id"]
    }
    if not candidates:
        return {}
    found = _rows_in(cs, cast(Table, Person.__table__), "personal_id", list(candidates))
    remap = {
        candidates[r["personal_id"]]: r["id"]
        for r in found
        if r["id"] != candidates[r["personal_id"]]
    }
    # Connected as the user's own role, RLS hides a person who is only in cases outside the
    # user's scope; the definer function says who holds the number (id only). Their row
    # becomes visible once the new case's household has them (see _bring_hidden_persons).
    seen = {r["personal_id"] for r in found}
    for digits, old in candidates.items():
        if digits in seen:
            continue
        brief = find_person_brief(cs, digits)
        if brief is None or brief.id == old:
            continue
        if brief.is_protected:
            cases = _cases_of(mine, old)
            numbers = sorted(r["case_number"] for r in mine["fs_case"].values() if r["id"] in cases)
            raise ValidationError.single(
                "personnummer",
                f"{', '.join(numbers) or '-'}: en person i ärendet har skyddade "
                "personuppgifter och finns redan centralt; ta bort personen ur ärendet här "
                "och lägg till personen centralt, eller kontakta arbetsledaren. Inget har "
                "synkroniserats",
            )
        remap[old] = brief.id
    if not remap:
        return {}
    for r in found:
        theirs["person"][str(r["id"])] = r
    for r in _rows_in(
        cs, TABLES_BY_NAME["person_identifier"].table, "person_id", list(remap.values())
    ):
        theirs["person_identifier"][str(r["id"])] = r
    for old in remap:
        mine["person"].pop(str(old), None)
    mine["person_identifier"] = {
        k: r for k, r in mine["person_identifier"].items() if r["person_id"] not in remap
    }
    for name in _PERSON_REFS[1:]:
        spec = TABLES_BY_NAME[name]
        rebuilt: dict[str, Row] = {}
        for r in mine[name].values():
            if r.get("person_id") in remap:
                r = {**r, "person_id": remap[r["person_id"]]}
            rebuilt[row_key(spec, r)] = r
        mine[name] = rebuilt
    return remap


def _cases_of(mine: dict[str, dict[str, Row]], person_id: uuid.UUID) -> set[uuid.UUID]:
    return {r["case_id"] for r in mine["household_member"].values() if r["person_id"] == person_id}


def _bring_hidden_persons(
    cs: Session,
    plan: _Plan,
    remap: dict[uuid.UUID, uuid.UUID],
    theirs: dict[str, dict[str, Row]],
    stamps: dict[str, dict[str, str | None]],
    compared: dict[str, set[str]],
) -> None:
    """Central persons that new laptop persons became while RLS hid them from the user's
    role (:func:`_remap_persons`): after the central writes they are in the household of a
    case of the user's, so visible; the laptop gets them like any new central row."""
    hidden = {new for new in remap.values() if str(new) not in theirs["person"]}
    if not hidden:
        return
    for name, by in (("person", "id"), ("person_identifier", "person_id")):
        spec = TABLES_BY_NAME[name]
        for r in select_in(cs, spec.table, by, hidden, stamp=True):
            stamp = r.pop(STAMP, None)
            key = row_key(spec, r)
            theirs[name][key] = r
            plan.local_insert.setdefault(name, []).append(r)
            plan.base[(name, key)] = _json_row(r)
            stamps[name][key] = stamp
            compared[name].add(key)


# --- applying -----------------------------------------------------------------------------------


def _where(spec: SyncTable, keys: Row) -> Any:
    return and_(*(spec.table.c[k] == v for k, v in keys.items()))


_BOOKKEEPING = frozenset({"id", "case_id", "created_at", "created_by", "version"})


def _natural_clashes(session: Session, spec: SyncTable, rows: list[Row]) -> dict[Any, Row]:
    """Per id of ``rows``, the other row with the same natural key (same case and month),
    where one exists: one statement per chunk, not per row (on a role connection every
    statement evaluates the row policies' visible-case set)."""
    if not spec.natural or not rows:
        return {}
    columns = [spec.table.c[k] for k in spec.natural]
    out: dict[Any, Row] = {}
    for part in chunks(rows):
        wanted = {tuple(r[k] for k in spec.natural): r["id"] for r in part}
        found = session.execute(select(spec.table).where(tuple_(*columns).in_(list(wanted))))
        for f in found:
            other = dict(f._mapping)
            mine = wanted.get(tuple(other[k] for k in spec.natural))
            if mine is not None and other["id"] != mine:
                out[mine] = other
    return out


def _brief(row: Row) -> dict[str, Any]:
    """A row's own values for a conflict report (no ids or bookkeeping)."""
    return {k: to_json(v) for k, v in row.items() if k not in _BOOKKEEPING}


def _apply_central(
    cs: Session, plan: _Plan, renumber: dict[uuid.UUID, tuple[str, int, int]], result: SyncResult
) -> None:
    for spec in CASE_TABLES:
        rows = []
        wanted = [
            {**r, "case_number": renumber[r["id"]][0], "number_year": renumber[r["id"]][1],
             "number_seq": renumber[r["id"]][2]}
            if spec.name == "fs_case" and r["id"] in renumber
            else r
            for r in plan.central_insert.get(spec.name, [])
        ]  # fmt: skip
        clashes = _natural_clashes(cs, spec, wanted)
        for r in wanted:
            other = clashes.get(r["id"])
            if other is not None:
                # Both sides added "the same" row (same case and month) under different
                # ids: neither is copied over the other; one conflict, keyed by ours.
                plan.conflicts.append(
                    (
                        spec.name,
                        row_key(spec, r),
                        DUPLICATE_FIELD,
                        None,
                        _brief(other),
                        _brief(r),
                        _case_of(spec, r),
                    )
                )
                plan.base.pop((spec.name, row_key(spec, r)), None)
                theirs_key = row_key(spec, other)
                plan.local_insert[spec.name] = [
                    x
                    for x in plan.local_insert.get(spec.name, [])
                    if row_key(spec, x) != theirs_key
                ]
                plan.base.pop((spec.name, theirs_key), None)
                continue
            rows.append(r)
        for part in chunks(parents_first(spec, rows)):
            # One multi-row INSERT per chunk, not one statement per row: on a role
            # connection every statement evaluates the row policies' visible-case set.
            cs.execute(insert(spec.table).values(list(part)))
        result.pushed += len(rows)
    guarded = is_postgres(cs)
    single = _update_in_batches(cs, plan, result) if guarded else plan.central_update
    for spec, keys, values, version in single:
        stmt = update(spec.table).where(_where(spec, keys))
        stmt = _unchanged_since_read(stmt, spec, keys, plan, guarded)
        if version is not None:
            stmt = stmt.where(spec.table.c.version == version).values(
                **values, version=spec.table.c.version + 1
            )
        else:
            stmt = stmt.values(**values)
        if cast(CursorResult[Any], cs.execute(stmt)).rowcount != 1:
            raise _changed_meanwhile(spec, version)
        if version is not None:
            k = row_key(spec, keys)
            plan.versions[(spec.name, k)] = {"version": version + 1}
        result.pushed += 1
    for spec, keys in reversed(plan.central_delete):
        stmt_d = _unchanged_since_read(
            delete(spec.table).where(_where(spec, keys)), spec, keys, plan, guarded
        )
        if cast(CursorResult[Any], cs.execute(stmt_d)).rowcount != 1:
            raise _changed_meanwhile(spec, None)
        result.pushed += 1


def _update_in_batches(
    cs: Session, plan: _Plan, result: SyncResult
) -> list[tuple[SyncTable, Row, dict[str, Any], int | None]]:
    """PostgreSQL: the central updates as one ``UPDATE … FROM (VALUES …)`` per table, set of
    columns and chunk, each row still conditional on its version and stamp; returns the
    updates left for one statement each (no version or stamp, or a composite key).

    On a connection as the user's own role every statement evaluates the row policies'
    visible-case set (hundreds of milliseconds at 100,000 cases), so a sync of 1,000
    changed cases must not be 1,000 UPDATE statements. A row changed meanwhile makes the
    statement update fewer rows than it names: the sync stops as for a single row.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[Row, dict[str, Any], int]]] = {}
    rest: list[tuple[SyncTable, Row, dict[str, Any], int | None]] = []
    for spec, keys, values, version in plan.central_update:
        stamp = plan.central_stamp.get(spec.name, {}).get(row_key(spec, keys))
        if spec.key != ("id",) or version is None or stamp is None:
            rest.append((spec, keys, values, version))
            continue
        groups.setdefault((spec.name, tuple(sorted(values))), []).append((keys, values, version))
    for (name, columns), items in groups.items():
        spec = TABLES_BY_NAME[name]
        t = spec.table
        for part in chunks(items):
            v = sql_values(
                column("k_id", t.c.id.type),
                column("k_version", Integer()),
                column("k_stamp", Text()),
                *(column(f"v_{c}", t.c[c].type) for c in columns),
                name="pushed",
            ).data(
                [
                    (
                        keys["id"],
                        version,
                        plan.central_stamp[name][row_key(spec, keys)],
                        *(values[c] for c in columns),
                    )
                    for keys, values, version in part
                ]
            )
            stmt = (
                update(t)
                .where(
                    t.c.id == v.c.k_id,
                    t.c.version == v.c.k_version,
                    stamp_sql(t) == v.c.k_stamp,
                )
                .values({c: v.c[f"v_{c}"] for c in columns} | {"version": t.c.version + 1})
            )
            if cast(CursorResult[Any], cs.execute(stmt)).rowcount != len(part):
                raise _changed_meanwhile(spec, part[0][2])
            for keys, _values, version in part:
                plan.versions[(name, row_key(spec, keys))] = {"version": version + 1}
            result.pushed += len(part)
    return rest


def _refresh_stamps(cs: Session, plan: _Plan, stamps: dict[str, dict[str, str | None]]) -> None:
    """Central's stamps of the rows this sync inserted or updated there, read back
    in the same transaction (the rows are locked or not yet visible to anyone else)."""
    for spec in CASE_TABLES:
        keys = {row_key(spec, r) for r in plan.central_insert.get(spec.name, [])}
        keys |= {row_key(spec, k) for s, k, _v, _ver in plan.central_update if s is spec}
        if keys:
            found = rows_by_keys(cs, spec, keys, stamp=True)
            stamps[spec.name].update(split_stamps({spec.name: found})[spec.name])


def _unchanged_since_read(stmt: Any, spec: SyncTable, keys: Row, plan: _Plan, guarded: bool) -> Any:
    """PostgreSQL: only if the row's stamp is still the one the merge read."""
    stamp = plan.central_stamp.get(spec.name, {}).get(row_key(spec, keys))
    if not guarded or stamp is None:
        return stmt
    return stmt.where(stamp_sql(spec.table) == stamp)


def _changed_meanwhile(spec: SyncTable, version: int | None) -> SyncRaceError:
    what = TABLE_LABELS.get(spec.name, spec.name)
    return SyncRaceError(
        f"en rad ({what}) ändrades centralt under synkroniseringen; inget sparades, "
        "kör synkroniseringen igen"
    )


_AUDIT_MARK = ("audit_event", "uploaded_through")


def _uploaded_through(ls: Session) -> int:
    row = ls.get(OfflineLocalBase, _AUDIT_MARK)
    return int(json.loads(row.data)["id"]) if row is not None else 0


def _set_uploaded_through(ls: Session, event_id: int) -> None:
    row = ls.get(OfflineLocalBase, _AUDIT_MARK)
    data = json.dumps({"id": event_id})
    if row is None:
        ls.add(OfflineLocalBase(table_name=_AUDIT_MARK[0], row_key=_AUDIT_MARK[1], data=data))
    else:
        row.data = data


def _known_event_uuids(cs: Session, uuids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these audit events central already holds. Connected as a user's own role,
    RLS hides some of them (an offline login failure under an unknown name has no user), so
    an owner-owned definer function answers: existence only, of uuids the laptop has."""
    as_role = is_postgres(cs) and str(cs.scalar(text("SELECT session_user"))).startswith(
        LOGIN_PREFIX
    )
    known: set[uuid.UUID] = set()
    for part in chunks(uuids):
        if as_role:
            found = cs.scalars(
                text("SELECT fokus_audit_events_known(CAST(:ids AS uuid[]))"),
                {"ids": list(part)},
            )
        else:
            found = cs.scalars(select(AuditEvent.event_uuid).where(AuditEvent.event_uuid.in_(part)))
        known |= set(found)
    return known


def _upload_audit(cs: Session, ls: Session) -> tuple[int, int]:
    """Append the laptop's audit events to the central chain, each once; (count, last local id)."""
    mark = _uploaded_through(ls)
    local_events = list(
        ls.scalars(select(AuditEvent).where(AuditEvent.id > mark).order_by(AuditEvent.id))
    )
    if not local_events:
        return 0, mark
    known = _known_event_uuids(cs, [e.event_uuid for e in local_events])
    new = [
        AuditEvent(
            event_uuid=e.event_uuid,
            occurred_at=e.occurred_at,
            actor=e.actor,
            user_id=e.user_id,
            workstation=e.workstation,
            action=e.action,
            case_id=e.case_id,
            detail=e.detail,
        )
        for e in local_events
        if e.event_uuid not in known
    ]
    append_to_chain(cs, new)
    return len(new), local_events[-1].id


def _signed_note_guards(ls: Session) -> list[str]:
    return [
        sql
        for (sql,) in ls.execute(
            text(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'contact_entry' AND name LIKE '%delete%'"
            )
        )
    ]


def _purge_local(ls: Session) -> int:
    """Delete every case and what hangs off it from the laptop (revoked or expired copy).

    Signed notes are guarded against DELETE; the guard is lifted for this one
    transaction and put back before it commits.
    """
    cases = len(list(ls.scalars(select(Case.id))))
    guards = _signed_note_guards(ls)
    for sql in guards:
        name = sql.split()[2]
        ls.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    for spec in reversed(CASE_TABLES):
        ls.execute(delete(spec.table))
    for sql in guards:
        ls.execute(text(sql))
    ls.execute(
        delete(OfflineLocalBase).where(
            OfflineLocalBase.table_name.in_([spec.name for spec in CASE_TABLES])
        )
    )
    return cases


def _apply_local(
    ls: Session,
    plan: _Plan,
    remap: dict[uuid.UUID, uuid.UUID],
    renumber: dict[uuid.UUID, tuple[str, int, int]],
    result: SyncResult,
) -> None:
    person = TABLES_BY_NAME["person"].table
    for old in remap:
        ls.execute(
            update(person)
            .where(person.c.id == old)
            .values(personal_id=None, id_kind=None, personal_id_short=None)
        )
    for spec in CASE_TABLES:
        rows = []
        clashes = _natural_clashes(ls, spec, plan.local_insert.get(spec.name, []))
        for r in plan.local_insert.get(spec.name, []):
            mine = clashes.get(r["id"])
            if mine is not None:
                # The laptop added "the same" row under another id: both are kept where
                # they are, and the base must not claim the laptop had central's row.
                key = row_key(spec, mine)
                plan.base.pop((spec.name, row_key(spec, r)), None)
                plan.conflicts.append(
                    (
                        spec.name,
                        key,
                        DUPLICATE_FIELD,
                        None,
                        _brief(r),
                        _brief(mine),
                        _case_of(spec, r),
                    )
                )
                continue
            rows.append(r)
        for part in chunks(parents_first(spec, rows)):
            ls.execute(insert(spec.table), list(part))
        result.pulled += len(rows)
    for old, new in remap.items():
        for name in _PERSON_REFS[1:]:
            t = TABLES_BY_NAME[name].table
            ls.execute(update(t).where(t.c.person_id == old).values(person_id=new))
        ident = TABLES_BY_NAME["person_identifier"].table
        ls.execute(delete(ident).where(ident.c.person_id == old))
        ls.execute(delete(person).where(person.c.id == old))
    for spec, keys, values in plan.local_update:
        ls.execute(update(spec.table).where(_where(spec, keys)).values(**values))
        result.pulled += 1
    case_t = TABLES_BY_NAME["fs_case"].table
    for case_id, (number, year, seq) in renumber.items():
        ls.execute(
            update(case_t)
            .where(case_t.c.id == case_id)
            .values(case_number=number, number_year=year, number_seq=seq)
        )
    for (name, key), crow in plan.versions.items():
        spec = TABLES_BY_NAME[name]
        keys = dict(zip(spec.key, key.split("|"), strict=True))
        typed = {k: from_json(spec.table.c[k], v) for k, v in keys.items()}
        ls.execute(update(spec.table).where(_where(spec, typed)).values(version=crow["version"]))
    for spec, keys in reversed(plan.local_delete):
        ls.execute(delete(spec.table).where(_where(spec, keys)))
        result.pulled += 1


def _write_base_and_conflicts(
    ls: Session,
    plan: _Plan,
    compared: dict[str, set[str]],
    stamps: dict[str, dict[str, str | None]],
    numbers: dict[uuid.UUID, str],
    result: SyncResult,
) -> None:
    """Store the new base of the compared rows (with central's stamps) and the
    conflict list; the base of every other row is unchanged on both sides and stays."""
    base_t = cast(Table, OfflineLocalBase.__table__)
    for spec in CASE_TABLES:
        keys = set(compared.get(spec.name, ())) | {
            k for (name, k) in plan.base if name == spec.name
        }
        for part in chunks(sorted(keys)):
            ls.execute(
                delete(base_t).where(
                    base_t.c.table_name == spec.name, base_t.c.row_key.in_(list(part))
                )
            )
        known = stamps.get(spec.name, {})
        fresh = [
            {
                "table_name": spec.name,
                "row_key": key,
                "data": json.dumps(data, sort_keys=True, ensure_ascii=False),
                "stamp": known.get(key),
            }
            for (name, key), data in plan.base.items()
            if name == spec.name
        ]
        for part in chunks(fresh, 2000):
            ls.execute(insert(base_t), list(part))
    open_rows = {
        (c.table_name, c.row_key, c.field): c
        for c in ls.scalars(
            select(OfflineLocalConflict).where(OfflineLocalConflict.resolved_at.is_(None))
        )
    }
    seen: set[tuple[str, str, str]] = set()
    now = utcnow()
    for name, key, fld, bv, cv, lv, case_id in plan.conflicts:
        ident = (name, key, fld)
        seen.add(ident)
        enc = [json.dumps(v, ensure_ascii=False) for v in (bv, cv, lv)]
        row = open_rows.get(ident)
        if row is None:
            row = OfflineLocalConflict(
                id=uuid.uuid4(),
                table_name=name,
                row_key=key,
                field=fld,
                case_id=case_id,
                case_number=numbers.get(case_id) if case_id else None,
                base_value=enc[0],
                theirs_value=enc[1],
                yours_value=enc[2],
                detected_at=now,
            )
            ls.add(row)
            result.new_conflicts += 1
        else:
            row.base_value, row.theirs_value, row.yours_value = enc
            if case_id in numbers:
                row.case_number = numbers[case_id]
    for ident, row in open_rows.items():
        if ident not in seen and row.row_key in compared.get(row.table_name, ()):
            row.resolved_at = now
            row.resolution = "same"  # both sides now agree, or the row is gone
    ls.flush()


def unresolved_conflicts(session: Session) -> list[Conflict]:
    rows = session.scalars(
        select(OfflineLocalConflict)
        .where(OfflineLocalConflict.resolved_at.is_(None))
        .order_by(OfflineLocalConflict.case_number, OfflineLocalConflict.detected_at)
    )
    return [
        Conflict(
            r.id,
            r.table_name,
            r.row_key,
            r.field,
            r.case_number,
            json.loads(r.base_value),
            json.loads(r.theirs_value),
            json.loads(r.yours_value),
        )
        for r in rows
    ]


def resolve_conflict(local: Database, conflict_id: uuid.UUID, choice: str) -> None:
    """Choose ``"theirs"`` (central's value, also locally) or ``"yours"`` (sent at next sync).

    For a whole row deleted on one side and changed on the other, ``theirs``
    makes the laptop like central (the row is restored from central's values,
    or deleted here) and ``yours`` makes central like the laptop at the next
    sync (the row is deleted there, or restored from the laptop's values).
    """
    if choice not in ("theirs", "yours"):
        raise ValidationError.single("val", "ange theirs (central) eller yours (din)")
    with local.begin() as ls:
        row = ls.get(OfflineLocalConflict, conflict_id)
        if row is None or row.resolved_at is not None:
            raise NotFoundError("konflikten finns inte eller är redan löst")
        spec = TABLES_BY_NAME.get(row.table_name)
        if spec is None or (row.field != ROW_FIELD and row.field not in spec.table.c):
            raise ValidationError.single(
                "konflikt",
                "en dubblerad rad löses i ärendet: ta bort den ena raden och synkronisera igen",
            )
        theirs = json.loads(row.theirs_value)
        keys = {
            k: from_json(spec.table.c[k], v)
            for k, v in zip(spec.key, row.row_key.split("|"), strict=True)
        }
        base = ls.get(OfflineLocalBase, (row.table_name, row.row_key))
        if row.field == ROW_FIELD:
            _resolve_row(ls, spec, keys, row, base, choice)
        else:
            if choice == "theirs":
                ls.execute(
                    update(spec.table)
                    .where(_where(spec, keys))
                    .values({row.field: from_json(spec.table.c[row.field], theirs)})
                )
            if base is not None:
                data = json.loads(base.data)
                data[row.field] = theirs
                base.data = json.dumps(data, sort_keys=True, ensure_ascii=False)
        row.resolved_at = utcnow()
        row.resolution = choice
        log_change(ls, row.table_name, row.row_key)  # the next sync compares the row again


def _resolve_row(
    ls: Session,
    spec: SyncTable,
    keys: Row,
    row: OfflineLocalConflict,
    base: OfflineLocalBase | None,
    choice: str,
) -> None:
    """Settle a row deleted on one side and changed on the other (see :func:`resolve_conflict`).

    The base decides what the next sync does: equal to central's row and
    missing here means "delete it centrally"; missing from the base and here
    only means "new here, add it centrally".
    """
    theirs, yours = json.loads(row.theirs_value), json.loads(row.yours_value)
    if not (theirs is None or isinstance(theirs, dict)) or not (
        yours is None or isinstance(yours, dict)
    ):
        raise ValidationError.single(
            "konflikt", "konflikten är från en äldre version; synkronisera först och välj sedan"
        )
    if theirs is not None:
        if choice == "theirs":
            # Deleted here, changed centrally: restore central's row here.
            values = {c.name: from_json(c, theirs.get(c.name)) for c in spec.table.columns}
            try:
                ls.execute(insert(spec.table).values(values))
            except IntegrityError as exc:
                raise ValidationError.single(
                    "konflikt",
                    "raden kan inte återställas här eftersom det den hör till också är "
                    "borttaget; lös den konflikten först",
                ) from exc
        # Either way central's row becomes the base: restored here it is agreed; kept
        # deleted here, the next sync deletes it centrally (unless it changes again).
        _set_base(ls, spec, row.row_key, theirs, base)
    elif choice == "theirs":
        # Changed here, deleted centrally: delete it here too (with a note's persons).
        if spec.name == "contact_entry":
            members = TABLES_BY_NAME["contact_entry_member"].table
            ls.execute(delete(members).where(members.c.entry_id == keys["id"]))
        try:
            ls.execute(delete(spec.table).where(_where(spec, keys)))
        except IntegrityError as exc:
            raise ValidationError.single(
                "konflikt", "raden har andra rader som hör till den; ta bort dem först"
            ) from exc
        if base is not None:
            ls.delete(base)
    elif base is not None:
        # Changed here, deleted centrally, keep the row: with no base it is "new here"
        # and the next sync adds it centrally again.
        ls.delete(base)


def _set_base(
    ls: Session, spec: SyncTable, key: str, values: dict[str, Any], base: OfflineLocalBase | None
) -> None:
    data = json.dumps(values, sort_keys=True, ensure_ascii=False)
    if base is None:
        ls.add(OfflineLocalBase(table_name=spec.name, row_key=key, data=data, stamp=None))
    else:
        base.data, base.stamp = data, None  # no stamp: the next sync reads central's row


# --- cases the user's role can no longer see ------------------------------------------------------


def _withheld_cases(
    cs: Session,
    ls: Session,
    base_stamps: dict[str, dict[str, str | None]],
    index: dict[str, dict[str, str | None]],
    local_case_ids: set[uuid.UUID],
    local_changed: dict[str, set[str]],
    user_id: uuid.UUID,
) -> dict[uuid.UUID, dict[str, set[str]]]:
    """Checked-out cases central no longer shows the user's role (RLS: reassigned, a protected
    person added, a share ended), with the keys of their rows on the laptop, per table.

    Only on a connection as a user's own role: the owner sees every case, and a case it no
    longer has was deleted there, which the merge handles. Such a case cannot be merged —
    central rows look deleted and the role may not write new ones — so the sync leaves it out.
    """
    if not (
        is_postgres(cs) and str(cs.scalar(text("SELECT session_user"))).startswith(LOGIN_PREFIX)
    ):
        return {}
    gone = {
        uuid.UUID(k) for k in base_stamps["fs_case"] if k not in index["fs_case"]
    } & local_case_ids
    out: dict[uuid.UUID, dict[str, set[str]]] = {}
    for case_id in sorted(gone, key=str):
        rows = case_rows(ls, [case_id], user_id)
        out[case_id] = {name: set(found) for name, found in rows.items()}
    return out


def _changed_here(
    rows: dict[str, set[str]], local_changed: dict[str, set[str]], ls: Session, case_id: uuid.UUID
) -> bool:
    """Has the laptop written to this case since the last sync (or does it hold an open
    conflict of it)?"""
    if any(keys & local_changed.get(name, set()) for name, keys in rows.items()):
        return True
    return (
        ls.scalar(
            select(OfflineLocalConflict.id)
            .where(
                OfflineLocalConflict.case_id == case_id,
                OfflineLocalConflict.resolved_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def _drop_cases(
    ls: Session,
    case_ids: set[uuid.UUID],
    rows: dict[uuid.UUID, dict[str, set[str]]],
    user_id: uuid.UUID,
) -> int:
    """Remove cases the user can no longer open centrally, unchanged here, from the laptop:
    their rows (the signed-note guard lifted for this transaction, as for a revoked copy)
    and their base, keeping persons another case on the laptop still has."""
    remaining = set(ls.scalars(select(Case.id))) - case_ids
    still = case_rows(ls, sorted(remaining, key=str), user_id) if remaining else {}
    doomed: dict[str, set[str]] = {spec.name: set() for spec in CASE_TABLES}
    for case_id in case_ids:
        for name, keys in rows[case_id].items():
            doomed[name] |= keys - set(still.get(name, {}))
    guards = _signed_note_guards(ls)
    for sql in guards:
        ls.execute(text(f"DROP TRIGGER IF EXISTS {sql.split()[2]}"))
    base_t = cast(Table, OfflineLocalBase.__table__)
    for spec in reversed(CASE_TABLES):
        for key in sorted(doomed[spec.name]):
            values = dict(zip(spec.key, key.split("|"), strict=True))
            typed = {k: from_json(spec.table.c[k], v) for k, v in values.items()}
            ls.execute(delete(spec.table).where(_where(spec, typed)))
        for part in chunks(sorted(doomed[spec.name])):
            ls.execute(
                delete(base_t).where(
                    base_t.c.table_name == spec.name, base_t.c.row_key.in_(list(part))
                )
            )
    for sql in guards:
        ls.execute(text(sql))
    return len(case_ids)


# --- the whole sync -----------------------------------------------------------------------------


def _compare_set(
    local_changed: dict[str, set[str]],
    base_stamps: dict[str, dict[str, str | None]],
    central: dict[str, dict[str, str | None]],
) -> dict[str, set[str]]:
    """The rows to merge: written on the laptop, or whose central stamp is not the
    one in the base (changed, new or gone centrally, or never stamped)."""
    out: dict[str, set[str]] = {}
    for spec in CASE_TABLES:
        known = base_stamps[spec.name]
        index = central[spec.name]
        keys = set(local_changed[spec.name])
        keys |= {k for k, d in index.items() if known.get(k) is None or known[k] != d}
        keys |= known.keys() - index.keys()
        out[spec.name] = keys
    return out


def _read_rows(
    ls: Session,
    cs: Session,
    keys: dict[str, set[str]],
    base: dict[str, dict[str, dict[str, Any]]],
    mine: dict[str, dict[str, Row]],
    theirs: dict[str, dict[str, Row]],
    stamps: dict[str, dict[str, str | None]],
) -> None:
    """Add the base, laptop and central values (and central stamps) of ``keys``."""
    for name, part in _base_rows(ls, keys).items():
        base[name].update(part)
    for spec in CASE_TABLES:
        wanted = keys.get(spec.name, set())
        if not wanted:
            continue
        mine[spec.name].update(rows_by_keys(ls, spec, wanted))
        found = rows_by_keys(cs, spec, wanted, stamp=True)
        stamps[spec.name].update(split_stamps({spec.name: found})[spec.name])
        theirs[spec.name].update(found)


def sync(central: Database, local: Database, *, progress: Progress | None = None) -> SyncResult:
    """Push the laptop's changes, pull central's, report conflicts; safe to run again.

    Only rows that changed are read in full: those in the laptop's change log
    (plus open conflicts), and those whose central stamp differs from
    the one kept in the base (central sends just keys and stamps for the
    rest).
    """
    say = progress or (lambda _m: None)
    result = SyncResult()
    with local.begin() as ls:
        state = ls.get(OfflineLocalState, 1)
        if state is None:
            raise ValidationError.single("--local", "filen är ingen utcheckad offlinekopia")
        user_id, checkout_id = state.user_id, state.checkout_id
        say("läser den lokala kopian")
        read_mark = change_mark(ls)
        local_changed, full = logged_changes(ls, read_mark)
        base_stamps = _base_stamps(ls)
        local_case_ids = set(ls.scalars(select(Case.id)))
        if full:  # a file from before the change log: compare every row once
            everything = case_rows(ls, local_case_ids, user_id)
            for spec in CASE_TABLES:
                local_changed[spec.name] |= set(everything[spec.name])
                local_changed[spec.name] |= set(base_stamps[spec.name])
        for name, key in ls.execute(
            select(OfflineLocalConflict.table_name, OfflineLocalConflict.row_key).where(
                OfflineLocalConflict.resolved_at.is_(None)
            )
        ):
            if name in local_changed:
                local_changed[name].add(key)

        with central.begin() as cs:
            checkout = cs.get(OfflineCheckout, checkout_id, with_for_update=True)
            if checkout is None:
                raise NotFoundError("utcheckningen finns inte i den centrala databasen")
            user = cs.get(User, user_id)
            if user is None:
                raise NotFoundError("användaren finns inte i den centrala databasen")
            if not user.active:
                # The laptop's changes stay in the encrypted file; an arbetsledare decides.
                raise PermissionDeniedError(
                    "kontot är inaktiverat centralt; kontakta arbetsledaren innan du synkroniserar"
                )
            actor = local_actor(state, Role(user.role))
            now = utcnow()
            if checkout.revoked_at is not None:
                result.status = "revoked"
            elif checkout.expires_at <= now:
                result.status = "expired"
            say("läser centrala ändringar")
            # Central rows of the checked-out cases: keys and stamps only. (Cases new
            # on the laptop are not central yet; their rows are in the change log.)
            scope = select(OfflineCheckoutCase.case_id).where(
                OfflineCheckoutCase.checkout_id == checkout_id
            )
            index = central_index(cs, scope, user_id)
            compared = _compare_set(local_changed, base_stamps, index)
            withheld = _withheld_cases(
                cs, ls, base_stamps, index, local_case_ids, local_changed, user_id
            )
            for case_rows_ in withheld.values():
                for name, keys in case_rows_.items():
                    # Rows of a case the role cannot see: not merged (a person also in
                    # a visible case is, through that case).
                    compared[name] -= keys - index[name].keys()
            kept = {
                c for c, rows_ in withheld.items() if _changed_here(rows_, local_changed, ls, c)
            }
            del index, base_stamps
            base: dict[str, dict[str, dict[str, Any]]] = {s.name: {} for s in CASE_TABLES}
            mine: dict[str, dict[str, Row]] = {s.name: {} for s in CASE_TABLES}
            theirs: dict[str, dict[str, Row]] = {s.name: {} for s in CASE_TABLES}
            stamps: dict[str, dict[str, str | None]] = {s.name: {} for s in CASE_TABLES}
            _read_rows(ls, cs, compared, base, mine, theirs, stamps)
            remap = _remap_persons(cs, base, mine, theirs)
            # Central persons the remap brought in: compare them like the rest.
            brought = {s.name: set(theirs[s.name]) - compared[s.name] for s in CASE_TABLES}
            if any(brought.values()):
                _read_rows(ls, cs, brought, base, mine, theirs, stamps)
                for name, keys in brought.items():
                    compared[name] |= keys
            result.compared = sum(map(len, compared.values()))
            say(f"jämför {result.compared} ändrade rader")
            plan = _Plan(central_stamp=stamps)
            for spec in CASE_TABLES:
                _merge_table(spec, base[spec.name], mine[spec.name], theirs[spec.name], plan)

            renumber: dict[uuid.UUID, tuple[str, int, int]] = {}
            new_case_ids = [r["id"] for r in plan.central_insert.get("fs_case", [])]
            for r in plan.central_insert.get("fs_case", []):
                year = r["number_year"]
                (seq,) = allocate_case_numbers(cs, year)
                renumber[r["id"]] = (format_case_number(year, seq), year, seq)
                result.new_cases.append((r["case_number"], renumber[r["id"]][0]))
            # A case pushed by an interrupted run: keep the number central gave it.
            for key, r in mine["fs_case"].items():
                c_row = theirs["fs_case"].get(key)
                if is_provisional_case_number(r["case_number"]) and c_row is not None:
                    renumber[r["id"]] = (
                        c_row["case_number"],
                        c_row["number_year"],
                        c_row["number_seq"],
                    )
                    result.new_cases.append((r["case_number"], c_row["case_number"]))

            for case_id, (number, year, seq) in renumber.items():
                entry = plan.base.get(("fs_case", str(case_id)))
                if entry is not None:
                    entry.update(case_number=number, number_year=year, number_seq=seq)
            say(
                f"skickar ändringar ({sum(map(len, plan.central_insert.values()))} nya rader, "
                f"{len(plan.central_update)} ändrade)"
            )
            ensure_people_and_units(
                ls, cs, referenced_users(mine), {r["unit_id"] for r in mine["fs_case"].values()}
            )
            _checkpoint("merged")
            _apply_central(cs, plan, renumber, result)
            _refresh_stamps(cs, plan, stamps)
            _bring_hidden_persons(cs, plan, remap, theirs, stamps, compared)
            have = set(cs.scalars(
                select(OfflineCheckoutCase.case_id).where(
                    OfflineCheckoutCase.checkout_id == checkout_id
                )
            ))  # fmt: skip
            extra = [c for c in new_case_ids if c not in have]
            if extra:
                for part in chunks([{"checkout_id": checkout_id, "case_id": c} for c in extra]):
                    cs.execute(insert(OfflineCheckoutCase).values(list(part)))
            today = date.today()
            for case_id in new_case_ids:
                members = [
                    r["person_id"]
                    for r in mine["household_member"].values()
                    if r["case_id"] == case_id and r["valid_to"] is None
                ]
                for pid in members:
                    other = open_case_elsewhere(cs, pid, on=today, exclude_case=case_id)
                    if other is not None:
                        number = renumber[case_id][0]
                        result.flags.append(
                            f"{number}: en person i hushållet ingår redan i ett öppet ärende "
                            f"({other})"
                        )
                        record(
                            cs,
                            actor,
                            "offline_case_flagged",
                            case_id=case_id,
                            reason="open_case_elsewhere",
                        )
            say("laddar upp loggen")
            result.audit_uploaded, uploaded_through = _upload_audit(cs, ls)
            checkout.last_synced_at = now
            if result.status != "active" and not kept:
                checkout.returned_at = now
            record(
                cs,
                actor,
                "offline_sync",
                checkout_id=checkout_id,
                laptop=state.laptop_code,
                pushed=result.pushed,
                new_cases=len(result.new_cases),
                conflicts=len(plan.conflicts),
                audit_uploaded=result.audit_uploaded,
                status=result.status,
            )
            revoked_at = checkout.revoked_at
            _checkpoint("central_applied")
        _checkpoint("central_committed")

        say("uppdaterar den lokala kopian")
        # Take the laptop file's write lock, then note where this sync's own writes begin
        # in the change log: entries after ``read_mark`` and up to here were written by
        # someone else meanwhile and stay for the next sync.
        state_t = cast(Table, OfflineLocalState.__table__)
        ls.execute(
            update(state_t)
            .where(state_t.c.id == 1)
            .values(last_provisional=state_t.c.last_provisional)
        )
        write_mark = change_mark(ls)
        meanwhile, _ = logged_changes(ls, write_mark, after=read_mark)
        if any(meanwhile[name] & compared[name] for name in meanwhile):
            # Central is committed; the next run finishes the job with this edit in it.
            raise SyncRaceError(
                "en rad som synkroniserades ändrades på den här datorn under tiden; inget gick "
                "förlorat, kör synkroniseringen igen"
            )
        with central.begin() as source:
            units = {r["unit_id"] for r in theirs["fs_case"].values()}
            ensure_people_and_units(source, ls, referenced_users(theirs), units)
            copy_reference_data(source, ls)
        _apply_local(ls, plan, remap, renumber, result)
        numbers = {
            case_id: number for case_id, number in ls.execute(select(Case.id, Case.case_number))
        }
        _write_base_and_conflicts(ls, plan, compared, stamps, numbers, result)
        result.kept_cases = sorted(numbers[c] for c in kept if c in numbers)
        dropped = set(withheld) - kept
        if dropped:
            result.removed_cases = _drop_cases(ls, dropped, withheld, user_id)
        if result.status != "active" and not kept:
            say("utcheckningen gäller inte längre: tar bort ärendena lokalt")
            result.purged_cases = _purge_local(ls)
        _set_uploaded_through(ls, uploaded_through)
        change_t = cast(Table, OfflineLocalChange.__table__)
        ls.execute(
            delete(change_t).where(or_(change_t.c.seq <= read_mark, change_t.c.seq > write_mark))
        )
        for case_id in kept:  # their changes wait in the log for a sync that may send them
            for name, keys in withheld[case_id].items():
                for key in sorted(keys & local_changed.get(name, set())):
                    log_change(ls, name, key)
        state.last_sync_at = now
        state.revoked_at = revoked_at
        ls.flush()
        result.conflicts = unresolved_conflicts(ls)
    say("klart")
    return result


PASSWORD_CHANGED_HINT = (
    "; har lösenordet bytts centralt sedan utcheckningen? Synkronisera med både det gamla "
    "(det låser upp filen) och det nya lösenordet (sync --new-password)"
)


def local_username(local: Database) -> str:
    """The user the laptop copy was checked out to."""
    with local.begin() as ls:
        state = ls.get(OfflineLocalState, 1)
        if state is None:
            raise ValidationError.single("--local", "filen är ingen utcheckad offlinekopia")
        return state.username


def _with_hint(exc: LoginError, new_password: str | None) -> LoginError:
    if new_password is None and exc.message == WRONG_CREDENTIALS:
        return LoginError(WRONG_CREDENTIALS + PASSWORD_CHANGED_HINT)
    return exc


def sync_with_login(
    central: Database,
    local: Database,
    password: str,
    *,
    new_password: str | None = None,
    workstation: str,
    progress: Progress | None = None,
) -> SyncResult:
    """Log in centrally, synchronise, and after a central password change lock the laptop
    file with the new password.

    ``password`` is the one that opened the laptop file (the password at
    checkout, or at the last rekey). Central wants its current password:
    ``new_password`` when it was changed while the laptop was out, else the
    same one. ``central`` connected as the user's own role (:func:`sync_as_user`
    makes such a connection on a per-user server) was checked by the server with
    that password; connected as the owner, Fokus checks it
    (:func:`services.role_login.login_central`). After a sync with a new password
    the file is rekeyed (:func:`services.offline.rekey_local`): the old password
    opens nothing any more, and the new one opens the file and logs in offline.
    """
    from services.offline import rekey_local

    with local.begin() as ls:
        state = ls.get(OfflineLocalState, 1)
        if state is None:
            raise ValidationError.single("--local", "filen är ingen utcheckad offlinekopia")
        username, checkout_id, code = state.username, state.checkout_id, state.laptop_code
    try:
        who = login_central(central, username, new_password or password, workstation)
    except LoginError as exc:
        raise _with_hint(exc, new_password) from exc
    result = sync(central, local, progress=progress)
    if new_password is not None and new_password != password:
        (progress or (lambda _m: None))("låser den lokala filen med det nya lösenordet")
        rekey_local(local, new_password)
        with central.begin() as cs:
            record(cs, who.actor, "offline_rekeyed", checkout_id=checkout_id, laptop=code)
        result.rekeyed = True
    return result


def sync_as_user(
    central_url: str,
    local: Database,
    password: str,
    *,
    new_password: str | None = None,
    workstation: str,
    progress: Progress | None = None,
) -> SyncResult:
    """Connect to central as the laptop's user and :func:`sync_with_login` (the command
    line's ``sync`` and the app's Arkiv → Synkronisera).

    On a server with per-user roles (a URL without a database user, or naming the user's
    own role) the connection is made as ``fokus_u_<username>`` with the central password
    (``new_password`` after a central change, else ``password``): the server checks it, and
    every central read and write of the sync is under that role's grants and RLS.
    """
    username = local_username(local)
    try:
        central = connect_central(central_url, username, new_password or password)
    except LoginError as exc:
        raise _with_hint(exc, new_password) from exc
    try:
        return sync_with_login(
            central,
            local,
            password,
            new_password=new_password,
            workstation=workstation,
            progress=progress,
        )
    finally:
        central.dispose()
