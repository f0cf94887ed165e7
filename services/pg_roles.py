"""PostgreSQL: one database role per user, group roles per Fokus role, row-level security.

On a shared server the boundary is the database, not the client (issue 6,
item 2). Every Fokus user gets their own LOGIN role (``fokus_u_<username>``)
with a SCRAM password — the user's own password, so no shared password is
kept on workstations — and is a member of one group role per Fokus role:

* ``fokus_caseworker`` and ``fokus_team_leader`` — read and write case data,
  but only the rows the row-level security policies let through;
* ``fokus_admin`` — users, units, reference data; no case tables at all.

``fs_case``'s policies implement the matrix of
:func:`services.access.case_scope_condition` for ``session_user`` (mapped to
``app_user.db_role``) on each row's own columns, against per-statement constants from
``SECURITY DEFINER`` functions (:func:`case_row_condition`); the other tables probe
``fs_case`` (or ``person``) by key, so a statement's cost follows the rows it touches
(migration 0017; docs/access.md). The audit table is INSERT and SELECT only for every
group role; the chain head gets a column-level UPDATE (see docs/access.md
for why that, rather than a definer function, and what it allows).

Everything here is idempotent: :func:`install_access_control` runs in
migration 0004 and again after every ``db upgrade`` (tables added by later
revisions get their policy: any table with a ``case_id`` column follows the
case, any with a ``person_id`` column follows the person; other new tables
get no grants until listed here). The owner (the role that runs the
migrations and the command line) is not subject to the policies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.orm import Session

from models import Unit, User
from models.codes import Role
from services.audit import Actor, record
from services.errors import FokusError, ValidationError

GROUP_ROLES: dict[Role, str] = {
    Role.CASEWORKER: "fokus_caseworker",
    Role.TEAM_LEADER: "fokus_team_leader",
    Role.ADMIN: "fokus_admin",
}
CASE_ROLES = (GROUP_ROLES[Role.CASEWORKER], GROUP_ROLES[Role.TEAM_LEADER])
ALL_ROLES = tuple(GROUP_ROLES.values())
LOGIN_PREFIX = "fokus_u_"

# Tables every group role reads; the admin role also writes them.
REFERENCE_TABLES = ("unit", "agency", "contact_method", "support_reason_kind")
# Unit-level tables without personal data: read by case roles, written by the arbetsledare.
UNIT_TABLES = ("outcome_target", "outcome_target_group", "outcome_target_rule")
# Offline checkouts (migration 0006), recorded centrally: see _offline_checkouts below.
OFFLINE_TABLES = ("offline_checkout", "offline_checkout_case")
# A laptop file's own bookkeeping: in every schema (one set of migrations), used only in the
# SQLite laptop file. The change log (0009) is one of them: no group role may touch any of
# them on the server, and RLS is on, so a grant added by mistake still shows no row.
LAPTOP_TABLES = (
    "offline_local_state",
    "offline_local_base",
    "offline_local_conflict",
    "offline_local_change",
)
# offline_checkout columns a case role may change: the sync's bookkeeping; the arbetsledare
# also revokes. Nobody but the owner role changes who, which laptop or until when.
CHECKOUT_SYNC_COLUMNS = ("last_synced_at", "returned_at")
CHECKOUT_REVOKE_COLUMNS = ("revoked_at", "revoked_by")
# app_user columns a case role may read: everything but the password hash.
USER_COLUMNS_HIDDEN = ("password_hash",)
# Every user's login role runs without JIT compilation. The row policies test each row with
# key probes, which the planner costs high enough to JIT-compile any statement that may
# touch a few thousand rows; the compilation alone then took 0.3-4 s of statements that
# run in 20 ms without it (the sync's consent query at 100,000 cases: 4.25 s against
# 19 ms). Set on the role, so it holds for every client (psql too).
LOGIN_ROLE_SETTINGS = "ALTER ROLE {} SET jit = off"
# Tables handled by name below; never by the generic case_id/person_id rule.
_SPECIAL = {
    "alembic_version",
    "app_user",
    "audit_event",
    "audit_chain_head",
    "case_number_counter",
    "fs_case",
    "person",
    "person_identifier",
    "contact_entry_member",
    "case_named_staff",
    "stand_in",
    "emergency_access",
    "case_share",
    "case_protected",
    *REFERENCE_TABLES,
    *UNIT_TABLES,
    *OFFLINE_TABLES,
    *LAPTOP_TABLES,
}

_FUNCTIONS_TEMPLATE = r"""
CREATE OR REPLACE FUNCTION fokus_current_user_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT id FROM app_user WHERE db_role = session_user AND active
$$;

CREATE OR REPLACE FUNCTION fokus_current_unit_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT unit_id FROM app_user WHERE db_role = session_user AND active
$$;

CREATE OR REPLACE FUNCTION fokus_is_team_leader_of(p_unit uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM app_user WHERE db_role = session_user AND active
                 AND role = 'team_leader' AND unit_id = p_unit)
$$;

-- The per-statement facts of the access matrix, for session_user (an active account).
-- The policies call them as "(SELECT f())": an InitPlan, evaluated once per statement
-- whatever the number of rows, so each row is then tested on its own columns.
CREATE OR REPLACE FUNCTION fokus_current_role() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT role::text FROM app_user WHERE db_role = session_user AND active
$$;

-- The user's id when an active caseworker; else NULL.
CREATE OR REPLACE FUNCTION fokus_caseworker_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT id FROM app_user WHERE db_role = session_user AND active AND role = 'caseworker'
$$;

-- The user's unit when an active arbetsledare; else NULL.
CREATE OR REPLACE FUNCTION fokus_leader_unit_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT unit_id FROM app_user WHERE db_role = session_user AND active AND role = 'team_leader'
$$;

-- The colleagues whose cases a caseworker stands in for today (Swedish date).
CREATE OR REPLACE FUNCTION fokus_stand_in_for_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT COALESCE(array_agg(s.absent_user_id), '{}') FROM stand_in s
  WHERE s.substitute_user_id = (SELECT fokus_caseworker_id()) AND s.revoked_at IS NULL
    AND s.valid_from <= (now() AT TIME ZONE 'Europe/Stockholm')::date
    AND s.valid_to >= (now() AT TIME ZONE 'Europe/Stockholm')::date
$$;

-- The cases shared with a caseworker today (Swedish date).
CREATE OR REPLACE FUNCTION fokus_shared_case_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT COALESCE(array_agg(sh.case_id), '{}') FROM case_share sh
  WHERE sh.user_id = (SELECT fokus_caseworker_id()) AND sh.revoked_at IS NULL
    AND sh.valid_from <= (now() AT TIME ZONE 'Europe/Stockholm')::date
    AND sh.valid_to >= (now() AT TIME ZONE 'Europe/Stockholm')::date
$$;

-- The cases the user is named on (the only way into a protected case but nödåtkomst).
CREATE OR REPLACE FUNCTION fokus_named_case_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT COALESCE(array_agg(n.case_id), '{}') FROM case_named_staff n
  WHERE n.user_id = (SELECT fokus_current_user_id())
$$;

-- The cases of the user's nödåtkomst grants in force now.
CREATE OR REPLACE FUNCTION fokus_emergency_case_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT COALESCE(array_agg(e.case_id), '{}') FROM emergency_access e
  WHERE e.user_id = (SELECT fokus_current_user_id())
    AND e.granted_at <= now() AND e.expires_at > now()
$$;

-- Whether a case has a member with skyddade personuppgifter, from the memberships
-- themselves: for a schema before case_protected (migration 0015), whose policies
-- installed by migration 0004 cannot name that table yet.
CREATE OR REPLACE FUNCTION fokus_case_protected_raw(p_case uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM household_member hm JOIN person p ON p.id = hm.person_id
                 WHERE hm.case_id = p_case AND p.protection IS NOT NULL)
$$;

-- The access matrix of services/access.py (case_scope_condition) on one case: the
-- fs_case policy's own expression, for a row the caller cannot read through RLS
-- (the audit log's policy, which the administratör's role also passes through).
CREATE OR REPLACE FUNCTION fokus_case_visible(p_case uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM fs_case c WHERE c.id = p_case AND {case_row_c})
$$;

-- Every case the user may open: the same expression over the whole table. No policy
-- uses it (that cost grows with the unit); kept for diagnostics and older callers.
CREATE OR REPLACE FUNCTION fokus_visible_case_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.id FROM fs_case c WHERE {case_row_c}
$$;

-- A person is reached through a case: in a visible case's household, or in no
-- household at all (just created, about to be added).
CREATE OR REPLACE FUNCTION fokus_visible_person_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT hm.person_id FROM household_member hm
  WHERE hm.case_id IN (SELECT fokus_visible_case_ids())
  UNION
  SELECT p.id FROM person p
  WHERE NOT EXISTS (SELECT 1 FROM household_member hm WHERE hm.person_id = p.id)
    AND EXISTS (SELECT 1 FROM app_user WHERE db_role = session_user AND active
                AND role IN ('caseworker', 'team_leader'))
$$;

-- A person in no household (a new row being inserted, or not yet added to a case).
CREATE OR REPLACE FUNCTION fokus_person_unattached(p_person uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT NOT EXISTS (SELECT 1 FROM household_member WHERE person_id = p_person)
$$;

-- Number, unit and protection of any case, for an active caseworker or arbetsledare:
-- enough to refuse with the case number or to ask for nödåtkomst (services/access.py).
CREATE OR REPLACE FUNCTION fokus_case_brief(p_case uuid, p_number text)
RETURNS TABLE (id uuid, case_number text, unit_id uuid, protected boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.id, c.case_number::text, c.unit_id,
         EXISTS (SELECT 1 FROM household_member hm JOIN person p ON p.id = hm.person_id
                 WHERE hm.case_id = c.id AND p.protection IS NOT NULL)
  FROM fs_case c
  WHERE (c.id = p_case OR c.case_number = p_number)
    AND EXISTS (SELECT 1 FROM app_user WHERE db_role = session_user AND active
                AND role IN ('caseworker', 'team_leader'))
$$;

-- Who holds a personnummer (now or earlier) or a person id, for an active caseworker or
-- arbetsledare: only the person's id, birth date (part of the number) and whether the
-- personal data are protected -- never names, address or case content. The services use it
-- only when the person's row is not visible to the user (in a case outside their scope), so
-- that the person can still be added to a case (the row becomes visible through it) instead
-- of the insert of a duplicate hitting the unique key.
CREATE OR REPLACE FUNCTION fokus_person_brief(p_person uuid, p_digits text)
RETURNS TABLE (person_id uuid, birth_date date, protected boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT p.id, p.birth_date, p.protection IS NOT NULL
  FROM person p
  WHERE p.id = COALESCE(
          p_person,
          (SELECT x.id FROM person x WHERE x.personal_id = p_digits LIMIT 1),
          (SELECT i.person_id FROM person_identifier i WHERE i.personal_id = p_digits LIMIT 1))
    AND EXISTS (SELECT 1 FROM app_user WHERE db_role = session_user AND active
                AND role IN ('caseworker', 'team_leader'))
$$;

-- The open case a person is a current member of, other than p_exclude: its id and number,
-- the unit's name and the caseworker's name -- enough to say "has an open case at unit X
-- with caseworker Y" and to offer to open it (which then follows the access rules).
CREATE OR REPLACE FUNCTION fokus_person_open_case(p_person uuid, p_on date, p_exclude uuid)
RETURNS TABLE (case_id uuid, case_number text, unit_name text, caseworker_name text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.id, c.case_number::text, u.name::text, COALESCE(cw.full_name, '')::text
  FROM household_member hm
  JOIN fs_case c ON c.id = hm.case_id
  JOIN unit u ON u.id = c.unit_id
  LEFT JOIN app_user cw ON cw.id = c.caseworker_id
  WHERE hm.person_id = p_person AND c.status <> 'closed'
    AND (hm.valid_to IS NULL OR hm.valid_to >= p_on)
    AND (p_exclude IS NULL OR c.id <> p_exclude)
    AND EXISTS (SELECT 1 FROM app_user WHERE db_role = session_user AND active
                AND role IN ('caseworker', 'team_leader'))
  ORDER BY c.case_number
  LIMIT 1
$$;

-- A checkout's revocation cannot be undone, and it is "returned" only once it is over.
CREATE OR REPLACE FUNCTION fokus_checkout_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
    RAISE EXCEPTION 'en återkallad utcheckning kan inte återställas'
      USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.returned_at IS NOT NULL AND NEW.returned_at IS DISTINCT FROM OLD.returned_at THEN
    RAISE EXCEPTION 'en återlämnad utcheckning kan inte ändras'
      USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.returned_at IS NULL AND NEW.returned_at IS NOT NULL
     AND NEW.revoked_at IS NULL AND NEW.expires_at > now() THEN
    RAISE EXCEPTION 'en utcheckning återlämnas först när den är återkallad eller har gått ut'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;

-- A new case: in one's own unit; a caseworker's own.
-- Which of these audit events the central log already holds, for an active caseworker or
-- arbetsledare: an offline sync run again after an interruption must upload each laptop event
-- once, and RLS hides some of them from the uploader (a failed offline login under an unknown
-- name has no user). Only the existence of event uuids the caller already has; no content.
CREATE OR REPLACE FUNCTION fokus_audit_events_known(p_uuids uuid[]) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT e.event_uuid FROM audit_event e
  WHERE e.event_uuid = ANY(p_uuids)
    AND EXISTS (SELECT 1 FROM app_user WHERE db_role = session_user AND active
                AND role IN ('caseworker', 'team_leader'))
$$;

CREATE OR REPLACE FUNCTION fokus_case_insertable(p_unit uuid, p_caseworker uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM app_user WHERE db_role = session_user AND active
                 AND unit_id = p_unit
                 AND (role = 'team_leader' OR (role = 'caseworker' AND id = p_caseworker)))
$$;
"""

# An administratör connected as their own role has no CREATEROLE (a CREATEROLE role could
# alter any non-superuser role, the owner's too). These SECURITY DEFINER functions, run
# with the owner's CREATEROLE, do exactly what the user administration needs — only for
# an active Fokus administrator, only on fokus_u_ roles, only with a SCRAM verifier
# (computed on the client), only into the three group roles — and nothing else.
_ADMIN_FUNCTIONS_SQL = r"""
CREATE OR REPLACE FUNCTION fokus_require_admin() RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM app_user WHERE db_role = session_user AND active
                 AND role = 'admin') THEN
    RAISE EXCEPTION 'only an active Fokus administrator may manage login roles'
      USING ERRCODE = '42501';
  END IF;
END $$;

CREATE OR REPLACE FUNCTION fokus_login_role_create(p_role text, p_group text, p_verifier text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM fokus_require_admin();
  IF p_role NOT LIKE 'fokus\_u\_%' OR length(p_role) > 63
     OR p_group NOT IN ('fokus_caseworker', 'fokus_team_leader', 'fokus_admin')
     OR p_verifier NOT LIKE 'SCRAM-SHA-256$%' THEN
    RAISE EXCEPTION 'invalid login role request' USING ERRCODE = '22023';
  END IF;
  EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT '
                 'IN ROLE %I PASSWORD %L', p_role, p_group, p_verifier);
  EXECUTE format('ALTER ROLE %I SET jit = off', p_role);
END $$;

CREATE OR REPLACE FUNCTION fokus_login_role_alter(
  p_role text, p_verifier text, p_login boolean, p_group text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE g text;
BEGIN
  PERFORM fokus_require_admin();
  IF p_role NOT LIKE 'fokus\_u\_%'
     OR NOT EXISTS (SELECT 1 FROM app_user WHERE db_role = p_role) THEN
    RAISE EXCEPTION 'not a Fokus login role' USING ERRCODE = '22023';
  END IF;
  IF p_verifier IS NOT NULL THEN
    IF p_verifier NOT LIKE 'SCRAM-SHA-256$%' THEN
      RAISE EXCEPTION 'not a SCRAM verifier' USING ERRCODE = '22023';
    END IF;
    EXECUTE format('ALTER ROLE %I PASSWORD %L', p_role, p_verifier);
  END IF;
  IF p_login IS NOT NULL THEN
    EXECUTE format('ALTER ROLE %I ' || CASE WHEN p_login THEN 'LOGIN' ELSE 'NOLOGIN' END, p_role);
  END IF;
  IF p_group IS NOT NULL THEN
    IF p_group NOT IN ('fokus_caseworker', 'fokus_team_leader', 'fokus_admin') THEN
      RAISE EXCEPTION 'not a Fokus group role' USING ERRCODE = '22023';
    END IF;
    FOREACH g IN ARRAY ARRAY['fokus_caseworker', 'fokus_team_leader', 'fokus_admin'] LOOP
      IF g = p_group THEN
        EXECUTE format('GRANT %I TO %I', g, p_role);
      ELSE
        EXECUTE format('REVOKE %I FROM %I', g, p_role);
      END IF;
    END LOOP;
  END IF;
END $$;
"""

_ADMIN_FUNCTION_NAMES = (
    "fokus_audit_events_known(uuid[])",
    "fokus_login_role_alter(text, text, boolean, text)",
    "fokus_login_role_create(text, text, text)",
    "fokus_require_admin()",
)

_FUNCTION_NAMES = (
    "fokus_audit_events_known(uuid[])",
    "fokus_person_brief(uuid, text)",
    "fokus_person_open_case(uuid, date, uuid)",
    "fokus_case_brief(uuid, text)",
    "fokus_case_insertable(uuid, uuid)",
    "fokus_case_visible(uuid)",
    "fokus_visible_person_ids()",
    "fokus_person_unattached(uuid)",
    "fokus_visible_case_ids()",
    "fokus_case_protected_raw(uuid)",
    "fokus_emergency_case_ids()",
    "fokus_named_case_ids()",
    "fokus_shared_case_ids()",
    "fokus_stand_in_for_ids()",
    "fokus_current_role()",
    "fokus_leader_unit_id()",
    "fokus_caseworker_id()",
    "fokus_is_team_leader_of(uuid)",
    "fokus_current_unit_id()",
    "fokus_current_user_id()",
)


def case_row_condition(row: str, role: Role | None = None, *, protected_table: bool = True) -> str:
    """SQL: the ``fs_case`` row ``row`` (a table name or alias) is one ``session_user`` may
    open — the matrix of :func:`services.access.case_scope_condition`, tested on the row's
    own columns against per-statement constants (InitPlans), so a statement pays for the
    rows it touches, not for the size of the unit.

    ``role``: the expression for that Fokus role alone (the policy of its group role), or
    None for either. One expression per group lets the planner drive a caseworker's
    statements from her few cases (a BitmapOr over the caseworker and primary-key indexes)
    instead of testing every case of the unit as the arbetsledare's test would need.
    The protected cases are a hashed ``NOT IN`` over ``case_protected`` (one small set per
    statement: a per-row probe is costed so high that PostgreSQL then JIT-compiles every
    scan, ~0.3 s). ``protected_table`` False: a schema before migration 0015 (no
    ``case_protected``), tested from the memberships instead."""
    protected = (
        f"{row}.id IN (SELECT cp.case_id FROM case_protected cp)"
        if protected_table
        else f"fokus_case_protected_raw({row}.id)"
    )
    allowed = f"(NOT {protected} OR {row}.id = ANY ((SELECT fokus_named_case_ids())::uuid[]))"
    emergency = f"{row}.id = ANY ((SELECT fokus_emergency_case_ids())::uuid[])"
    caseworker = (
        f"(({row}.caseworker_id = (SELECT fokus_caseworker_id()) "
        f"OR {row}.caseworker_id = ANY ((SELECT fokus_stand_in_for_ids())::uuid[]) "
        f"OR {row}.id = ANY ((SELECT fokus_shared_case_ids())::uuid[])) "
        f"AND {row}.unit_id = (SELECT fokus_current_unit_id()) AND {allowed})"
    )
    leader = f"({row}.unit_id = (SELECT fokus_leader_unit_id()) AND {allowed})"
    if role is Role.CASEWORKER:
        return f"({caseworker} OR {emergency})"
    if role is Role.TEAM_LEADER:
        return f"({leader} OR {emergency})"
    return f"({caseworker} OR {leader} OR {emergency})"


def _functions_sql(protected_table: bool) -> str:
    return _FUNCTIONS_TEMPLATE.replace(
        "{case_row_c}", case_row_condition("c", protected_table=protected_table)
    )


def _cases(table: str) -> str:
    """A row of ``table`` follows its case: a key probe into ``fs_case``, whose own policy
    applies inside (the row expression above), once per row touched."""
    return f"EXISTS (SELECT 1 FROM fs_case c WHERE c.id = {_q(table)}.case_id)"


def _persons(table: str) -> str:
    """A row of ``table`` follows its person (``person``'s policy applies inside)."""
    return f"EXISTS (SELECT 1 FROM person p WHERE p.id = {_q(table)}.person_id)"


# A person is visible in the household of a visible case (household_member's policy, which
# follows the case, applies inside), or, for an active caseworker or arbetsledare, while in
# no household at all (just created, about to be added).
_PERSON_VISIBLE = (
    "EXISTS (SELECT 1 FROM household_member hm WHERE hm.person_id = person.id) "
    "OR ((SELECT fokus_current_role()) IN ('caseworker', 'team_leader') "
    "AND fokus_person_unattached(person.id))"
)


def _q(name: str) -> str:
    """A quoted SQL identifier (names here come from the catalog or fixed lists)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class InstallReport:
    """What :func:`install_access_control` set up, for ``db upgrade`` to print."""

    policies: tuple[str, ...]
    ungranted: tuple[str, ...]  # tables no group role may touch (not case data, not listed)


def _ensure_group_roles(conn: Connection, roles: tuple[str, ...] = ALL_ROLES) -> None:
    """The group roles, once per server. Roles belong to the cluster, not the database:
    two databases migrated at the same moment (parallel test workers, two units' databases
    set up together) both find a role missing, and the second CREATE ROLE then fails on
    the first's when that commits. Either outcome leaves the role there, so that one
    error is caught."""
    for role in roles:  # fixed names: safe to inline
        conn.execute(
            text(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                f"'{role}') THEN CREATE ROLE {_q(role)} NOLOGIN; END IF; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        )


def _login_role_settings(conn: Connection) -> None:
    """LOGIN_ROLE_SETTINGS on the existing login roles of the group roles' members."""
    groups = ", ".join(f"'{g}'" for g in ALL_ROLES)  # fixed names: safe to inline
    conn.execute(
        text(
            "DO $$ DECLARE r text; BEGIN FOR r IN SELECT DISTINCT m.rolname FROM pg_roles m "
            "JOIN pg_auth_members a ON a.member = m.oid JOIN pg_roles g ON g.oid = a.roleid "
            f"WHERE g.rolname IN ({groups}) AND m.rolname LIKE 'fokus\\_u\\_%' "
            "AND NOT m.rolsuper "
            # This database's users' roles: another database's are its own upgrade's.
            "AND m.rolname IN (SELECT db_role FROM app_user WHERE db_role IS NOT NULL) "
            # Roles are the cluster's: only those not set yet, so databases upgraded at the
            # same moment do not update the same role rows.
            "AND NOT EXISTS (SELECT 1 FROM pg_db_role_setting s WHERE s.setrole = m.oid "
            "AND s.setdatabase = 0 AND 'jit=off' = ANY (s.setconfig)) LOOP "
            "BEGIN EXECUTE format('ALTER ROLE %I SET jit = off', r); "
            # An owner without CREATEROLE (the DBA made the roles): left as they are. Another
            # database's upgrade setting the same role at the same moment ("tuple
            # concurrently updated", XX000): it sets the same value.
            "EXCEPTION WHEN insufficient_privilege OR internal_error THEN NULL; "
            "END; END LOOP; END $$"
        )
    )


def _policy(conn: Connection, table: str, name: str, sql: str) -> str:
    conn.execute(text(f"DROP POLICY IF EXISTS {_q(name)} ON {_q(table)}"))
    conn.execute(text(sql))
    return f"{table}.{name}"


def _rls(conn: Connection, table: str) -> None:
    conn.execute(text(f"ALTER TABLE {_q(table)} ENABLE ROW LEVEL SECURITY"))


def _grant(conn: Connection, privileges: str, table: str, roles: Iterable[str]) -> None:
    conn.execute(text(f"GRANT {privileges} ON {_q(table)} TO {', '.join(_q(r) for r in roles)}"))


def _follow(conn: Connection, table: str, predicate: str, check: str | None = None) -> str:
    """RLS on ``table``: every command limited to rows for which ``predicate`` holds
    (new rows: ``check``, default the same)."""
    _rls(conn, table)
    _grant(conn, "SELECT, INSERT, UPDATE, DELETE", table, CASE_ROLES)
    return _policy(
        conn,
        table,
        "fokus_scope",
        f"CREATE POLICY fokus_scope ON {_q(table)} TO {', '.join(_q(r) for r in CASE_ROLES)} "
        f"USING ({predicate}) WITH CHECK ({check or predicate})",
    )


def install_access_control(conn: Connection) -> InstallReport:
    """Create (or refresh) group roles, access functions, policies and grants. PostgreSQL only.

    Must run as the owner of the tables (the migration role), which also
    needs CREATEROLE the first time (or the DBA creates the three group
    roles beforehand). Idempotent.
    """
    if conn.dialect.name != "postgresql":
        return InstallReport((), ())
    _ensure_group_roles(conn)
    tables = set(inspect(conn).get_table_names())
    protected_table = "case_protected" in tables
    conn.execute(text(_functions_sql(protected_table)))
    for fn in _FUNCTION_NAMES:
        conn.execute(text(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC"))
        conn.execute(text(f"GRANT EXECUTE ON FUNCTION {fn} TO {', '.join(map(_q, ALL_ROLES))}"))
    conn.execute(text(_ADMIN_FUNCTIONS_SQL))
    _login_role_settings(conn)
    for fn in _ADMIN_FUNCTION_NAMES:
        conn.execute(text(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC"))
        conn.execute(text(f"GRANT EXECUTE ON FUNCTION {fn} TO {_q(GROUP_ROLES[Role.ADMIN])}"))
    everyone = ALL_ROLES
    policies: list[str] = []

    # Schema version (open_database checks it), reference data and units.
    _grant(conn, "SELECT", "alembic_version", everyone)
    for t in REFERENCE_TABLES:
        _grant(conn, "SELECT", t, everyone)
        _grant(conn, "INSERT, UPDATE", t, [GROUP_ROLES[Role.ADMIN]])
    for t in UNIT_TABLES:
        if t in tables:
            _grant(conn, "SELECT", t, CASE_ROLES)
            _grant(conn, "INSERT, UPDATE, DELETE", t, [GROUP_ROLES[Role.TEAM_LEADER]])

    # Users: everyone reads the staff list, never the password hashes; admins write.
    columns = [c["name"] for c in inspect(conn).get_columns("app_user")]
    visible = ", ".join(_q(c) for c in columns if c not in USER_COLUMNS_HIDDEN)
    conn.execute(text(f"REVOKE ALL ON app_user FROM {', '.join(map(_q, everyone))}"))
    _grant(conn, f"SELECT ({visible})", "app_user", everyone)
    _grant(conn, "SELECT, INSERT, UPDATE", "app_user", [GROUP_ROLES[Role.ADMIN]])

    # The audit log: insert and read, never change. The chain head: a narrow UPDATE.
    conn.execute(
        text(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM {', '.join(map(_q, everyone))}")
    )
    _grant(conn, "SELECT, INSERT", "audit_event", everyone)
    conn.execute(
        text(
            "DO $$ DECLARE s text := pg_get_serial_sequence('audit_event', 'id'); BEGIN "
            "EXECUTE format('GRANT USAGE ON SEQUENCE %s TO "
            + ", ".join(ALL_ROLES)
            + "', s); END $$"
        )
    )
    _grant(conn, "SELECT, UPDATE (chain_seq, chain_hash, event_id)", "audit_chain_head", everyone)
    roles = ", ".join(map(_q, CASE_ROLES))
    _rls(conn, "audit_event")
    # Own events, and the arbetsledare's the events of the unit's staff; a case role also the
    # events of the cases it may open (a key probe into fs_case, whose policy applies inside:
    # the administratör's policy cannot name fs_case, on which that role has no grant).
    own_or_staff = (
        "user_id = (SELECT fokus_current_user_id()) "
        "OR (user_id IS NOT NULL AND EXISTS (SELECT 1 FROM app_user u "
        "    WHERE u.id = audit_event.user_id AND u.unit_id = (SELECT fokus_leader_unit_id())))"
    )
    policies.append(
        _policy(
            conn,
            "audit_event",
            "fokus_read",
            f"CREATE POLICY fokus_read ON audit_event FOR SELECT TO {roles} "
            f"USING ({own_or_staff} OR (case_id IS NOT NULL AND {_cases('audit_event')}))",
        )
    )
    policies.append(
        _policy(
            conn,
            "audit_event",
            "fokus_read_admin",
            "CREATE POLICY fokus_read_admin ON audit_event FOR SELECT TO "
            f"{_q(GROUP_ROLES[Role.ADMIN])} USING ({own_or_staff})",
        )
    )
    policies.append(
        _policy(
            conn,
            "audit_event",
            "fokus_write",
            "CREATE POLICY fokus_write ON audit_event FOR INSERT TO "
            f"{', '.join(map(_q, everyone))} "
            "WITH CHECK (user_id IS NULL OR user_id = fokus_current_user_id())",
        )
    )

    # Which cases have a protected member (migration 0015): read by every case role, with
    # no row policy, so the access scope's "not protected" test (the register's and the
    # policies') is one small hashed set per statement. It tells no more than
    # fokus_case_brief does (whether a case is protected). Only the owner's triggers
    # (SECURITY DEFINER) write it.
    if "case_protected" in tables:
        conn.execute(text(f"REVOKE ALL ON case_protected FROM {', '.join(map(_q, everyone))}"))
        _grant(conn, "SELECT", "case_protected", CASE_ROLES)

    # Case numbers are drawn by whoever creates a case.
    _grant(conn, "SELECT, INSERT, UPDATE", "case_number_counter", CASE_ROLES)

    # The case itself.
    _rls(conn, "fs_case")
    _grant(conn, "SELECT, INSERT, UPDATE", "fs_case", CASE_ROLES)
    roles = ", ".join(map(_q, CASE_ROLES))
    # One policy per group role and command (see case_row_condition); an account's group is
    # kept equal to its Fokus role (sync_group), and each expression also tests that role in
    # app_user, so a role out of step with its group sees no case but its nödåtkomster.
    by_group = (
        ("", Role.CASEWORKER),  # fokus_read, fokus_change: the names revision 0016 used
        ("_leader", Role.TEAM_LEADER),
    )
    for suffix, role in by_group:
        group = _q(GROUP_ROLES[role])
        case_row = case_row_condition("fs_case", role, protected_table=protected_table)
        policies.append(
            _policy(
                conn,
                "fs_case",
                f"fokus_read{suffix}",
                f"CREATE POLICY fokus_read{suffix} ON fs_case FOR SELECT TO {group} "
                f"USING ({case_row})",
            )
        )
        policies.append(
            _policy(
                conn,
                "fs_case",
                f"fokus_change{suffix}",
                f"CREATE POLICY fokus_change{suffix} ON fs_case FOR UPDATE TO {group} "
                f"USING ({case_row}) WITH CHECK (unit_id = fokus_current_unit_id())",
            )
        )
    policies.append(
        _policy(
            conn,
            "fs_case",
            "fokus_create",
            f"CREATE POLICY fokus_create ON fs_case FOR INSERT TO {roles} "
            "WITH CHECK (fokus_case_insertable(unit_id, caseworker_id))",
        )
    )

    # Persons and what hangs off them.
    policies.append(
        _follow(
            conn,
            "person",
            _PERSON_VISIBLE,
            # A new person is not in the table yet when the check runs.
            f"{_PERSON_VISIBLE} OR fokus_person_unattached(person.id)",
        )
    )
    policies.append(
        _follow(
            conn,
            "person_identifier",
            _persons("person_identifier"),
        )
    )
    policies.append(
        _follow(
            conn,
            "contact_entry_member",
            # The note's policy (which follows its case) applies inside.
            "EXISTS (SELECT 1 FROM contact_entry e WHERE e.id = contact_entry_member.entry_id)",
        )
    )

    # Grants of the access matrix: an arbetsledare manages them for the unit's cases; a
    # user sees their own; a caseworker may name themself on a case they already work
    # (a new protected case keeps its creator).
    policies.append(
        _follow(
            conn,
            "case_named_staff",
            "EXISTS (SELECT 1 FROM fs_case c WHERE c.id = case_named_staff.case_id "
            "AND (case_named_staff.user_id = (SELECT fokus_current_user_id()) "
            "OR fokus_is_team_leader_of(c.unit_id)))",
        )
    )
    policies.append(
        _follow(
            conn,
            "case_share",
            "user_id = fokus_current_user_id() "
            "OR fokus_is_team_leader_of((SELECT unit_id FROM fs_case c WHERE c.id = case_id))",
        )
    )
    policies.append(
        _follow(
            conn,
            "stand_in",
            "substitute_user_id = fokus_current_user_id() "
            "OR absent_user_id = fokus_current_user_id() "
            "OR fokus_is_team_leader_of((SELECT unit_id FROM app_user u "
            "                            WHERE u.id = absent_user_id))",
        )
    )
    policies.append(
        _follow(
            conn,
            "emergency_access",
            "user_id = fokus_current_user_id() "
            "OR fokus_is_team_leader_of((SELECT unit_id FROM fs_case c WHERE c.id = case_id)) "
            "OR fokus_is_team_leader_of((SELECT unit_id FROM app_user u WHERE u.id = user_id))",
        )
    )

    if "offline_checkout" in tables:  # migration 0006 and later
        policies.extend(_offline_checkouts(conn))
    for t in LAPTOP_TABLES:  # used only in a laptop's SQLite file: nothing for anyone here
        if t in tables:
            conn.execute(text(f"REVOKE ALL ON {_q(t)} FROM {', '.join(map(_q, everyone))}"))
            conn.execute(text(f"DROP POLICY IF EXISTS fokus_scope ON {_q(t)}"))
            _rls(conn, t)

    # Everything else with a case or a person: follows the case, or the person.
    ungranted: list[str] = []
    for table in sorted(tables - _SPECIAL):
        cols = {c["name"]: c for c in inspect(conn).get_columns(table)}
        if "case_id" in cols:
            predicate = _cases(table)
            if cols["case_id"]["nullable"] and "person_id" in cols:
                predicate = f"{predicate} OR ({_q(table)}.case_id IS NULL AND {_persons(table)})"
            policies.append(_follow(conn, table, predicate))
        elif "person_id" in cols:
            policies.append(_follow(conn, table, _persons(table)))
        else:
            ungranted.append(table)
    return InstallReport(tuple(policies), tuple(ungranted))


def _offline_checkouts(conn: Connection) -> list[str]:
    """Offline checkouts (docs/offline.md): a caseworker or arbetsledare records their own
    checkout of cases they may open and keeps its sync bookkeeping; the arbetsledare of the
    owner's unit sees the unit's checkouts and revokes them. Nobody deletes a checkout or
    unlists a case from it, and only the owner role changes who, which laptop or the expiry;
    the guard trigger keeps a revocation from being undone."""
    roles = ", ".join(map(_q, CASE_ROLES))
    leader = GROUP_ROLES[Role.TEAM_LEADER]
    for t in OFFLINE_TABLES:  # start from nothing: older installs gave the generic policy
        conn.execute(text(f"REVOKE ALL ON {_q(t)} FROM {', '.join(map(_q, ALL_ROLES))}"))
        conn.execute(text(f"DROP POLICY IF EXISTS fokus_scope ON {_q(t)}"))
        _rls(conn, t)
    _grant(conn, "SELECT, INSERT", "offline_checkout", CASE_ROLES)
    _grant(conn, f"UPDATE ({', '.join(CHECKOUT_SYNC_COLUMNS)})", "offline_checkout", CASE_ROLES)
    _grant(conn, f"UPDATE ({', '.join(CHECKOUT_REVOKE_COLUMNS)})", "offline_checkout", [leader])
    _grant(conn, "SELECT, INSERT", "offline_checkout_case", CASE_ROLES)
    conn.execute(text("DROP TRIGGER IF EXISTS fokus_checkout_guard ON offline_checkout"))
    conn.execute(
        text(
            "CREATE TRIGGER fokus_checkout_guard BEFORE UPDATE ON offline_checkout "
            "FOR EACH ROW EXECUTE FUNCTION fokus_checkout_guard()"
        )
    )
    mine_or_led = (
        "user_id = fokus_current_user_id() OR fokus_is_team_leader_of("
        "(SELECT u.unit_id FROM app_user u WHERE u.id = offline_checkout.user_id))"
    )
    return [
        _policy(
            conn,
            "offline_checkout",
            "fokus_read",
            f"CREATE POLICY fokus_read ON offline_checkout FOR SELECT TO {roles} "
            f"USING ({mine_or_led})",
        ),
        _policy(
            conn,
            "offline_checkout",
            "fokus_create",
            f"CREATE POLICY fokus_create ON offline_checkout FOR INSERT TO {roles} "
            "WITH CHECK (user_id = fokus_current_user_id())",
        ),
        _policy(
            conn,
            "offline_checkout",
            "fokus_change",
            f"CREATE POLICY fokus_change ON offline_checkout FOR UPDATE TO {roles} "
            f"USING ({mine_or_led}) WITH CHECK ({mine_or_led})",
        ),
        # The cases of the checkouts one may see (that table's policy applies inside).
        _policy(
            conn,
            "offline_checkout_case",
            "fokus_read",
            f"CREATE POLICY fokus_read ON offline_checkout_case FOR SELECT TO {roles} "
            "USING (checkout_id IN (SELECT c.id FROM offline_checkout c))",
        ),
        # A case one may open, onto one's own checkout.
        _policy(
            conn,
            "offline_checkout_case",
            "fokus_create",
            f"CREATE POLICY fokus_create ON offline_checkout_case FOR INSERT TO {roles} "
            f"WITH CHECK ({_cases('offline_checkout_case')} AND checkout_id IN "
            "(SELECT c.id FROM offline_checkout c WHERE c.user_id = fokus_current_user_id()))",
        ),
    ]


def refresh_access_control(conn: Connection) -> InstallReport | None:
    """After an upgrade: (re)install on PostgreSQL when the schema is at head, so tables
    added by revisions after 0004 get their policies and grants. None when skipped."""
    if conn.dialect.name != "postgresql":
        return None
    from alembic.runtime.migration import MigrationContext

    from services.db import head_revision

    if MigrationContext.configure(conn).get_current_revision() != head_revision():
        return None
    return install_access_control(conn)


def remove_access_control(conn: Connection) -> None:
    """Undo :func:`install_access_control` in this database (the group roles stay: they
    are shared by every database of the server and may own grants elsewhere)."""
    if conn.dialect.name != "postgresql":
        return
    rows = conn.execute(
        text(
            "SELECT tablename, policyname FROM pg_policies "
            "WHERE schemaname = current_schema() AND policyname LIKE 'fokus_%'"
        )
    ).all()
    for table, name in rows:
        conn.execute(text(f"DROP POLICY IF EXISTS {_q(name)} ON {_q(table)}"))
    existing = set(conn.execute(select(text("rolname")).select_from(text("pg_roles"))).scalars())
    roles = [r for r in ALL_ROLES if r in existing]
    for table in inspect(conn).get_table_names():
        conn.execute(text(f"ALTER TABLE {_q(table)} DISABLE ROW LEVEL SECURITY"))
        if roles:
            conn.execute(text(f"REVOKE ALL ON {_q(table)} FROM {', '.join(map(_q, roles))}"))
    if roles:
        conn.execute(
            text(
                "DO $$ DECLARE s text := pg_get_serial_sequence('audit_event', 'id'); BEGIN "
                "EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM "
                + ", ".join(roles)
                + "', s); END $$"
            )
        )
    if "offline_checkout" in inspect(conn).get_table_names():
        conn.execute(text("DROP TRIGGER IF EXISTS fokus_checkout_guard ON offline_checkout"))
    conn.execute(text("DROP FUNCTION IF EXISTS fokus_checkout_guard()"))
    for fn in (*_ADMIN_FUNCTION_NAMES, *_FUNCTION_NAMES):
        conn.execute(text(f"DROP FUNCTION IF EXISTS {fn}"))


# --- login roles per user ----------------------------------------------------------------------

_ROLE_CHARS = re.compile(r"[^a-z0-9_]")


def db_role_name(username: str) -> str:
    """``anna.berg`` → ``fokus_u_anna_berg`` (PostgreSQL's 63-byte limit kept)."""
    return (LOGIN_PREFIX + _ROLE_CHARS.sub("_", username.lower()))[:63]


def _raw(session: Session) -> Any:
    """The psycopg connection under the session (for libpq's password encryption)."""
    return session.connection().connection.driver_connection


def _scram(session: Session, role: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier, computed here so the password never reaches the server's logs."""
    verifier = _raw(session).pgconn.encrypt_password(
        password.encode("utf-8"), role.encode("utf-8"), b"scram-sha-256"
    )
    return bytes(verifier).decode("ascii")


def _as_user_role(session: Session) -> bool:
    """This connection is a Fokus user's own login role (the desktop app on a server),
    not the owner: role changes go through the owner's definer functions."""
    role = session.scalar(text("SELECT session_user"))
    return str(role or "").startswith(LOGIN_PREFIX)


def _alter_through_function(
    session: Session,
    role: str,
    *,
    verifier: str | None = None,
    login: bool | None = None,
    group: str | None = None,
) -> None:
    session.execute(
        text("SELECT fokus_login_role_alter(:r, :v, :l, :g)"),
        {"r": role, "v": verifier, "l": login, "g": group},
    )


def create_login_role(session: Session, actor: Actor, user: User, password: str) -> str:
    """Create ``user``'s own LOGIN role with a SCRAM password, in their group role.

    Runs in the caller's transaction (``user add``: the user row and the role
    commit together; PostgreSQL's CREATE ROLE is transactional). Needs an
    owner with CREATEROLE. Returns the role name.
    """
    if session.get_bind().dialect.name != "postgresql":
        return ""
    if not password:
        raise ValidationError.single("lösenord", "krävs för användarens databasroll")
    role = db_role_name(user.username)
    exists = session.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r").bindparams(r=role))
    if exists:
        raise ValidationError.single(
            "användarnamn", f"databasrollen {role} finns redan på servern; välj ett annat namn"
        )
    group = GROUP_ROLES[Role(user.role)]
    verifier = _scram(session, role, password)
    if _as_user_role(session):
        session.execute(
            text("SELECT fokus_login_role_create(:r, :g, :v)"),
            {"r": role, "g": group, "v": verifier},
        )
    else:
        from psycopg import sql  # only on PostgreSQL: the login (on SQLite) never loads it

        _raw(session).execute(
            sql.SQL(
                "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT IN ROLE {} "
                "PASSWORD {}"
            ).format(sql.Identifier(role), sql.Identifier(group), sql.Literal(verifier))
        )
        _raw(session).execute(sql.SQL(LOGIN_ROLE_SETTINGS).format(sql.Identifier(role)))
    user.db_role = role
    record(session, actor, "db_role_created", target_user=user.id, group=group)
    return role


def set_login_password(session: Session, user: User, password: str) -> None:
    """A new password for the user's role (``user reset-password`` on PostgreSQL)."""
    if session.get_bind().dialect.name != "postgresql" or not user.db_role:
        return
    verifier = _scram(session, user.db_role, password)
    if _as_user_role(session):
        _alter_through_function(session, user.db_role, verifier=verifier)
        return
    from psycopg import sql

    _raw(session).execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(user.db_role), sql.Literal(verifier)
        )
    )


def set_login_enabled(session: Session, user: User, enabled: bool) -> None:
    """LOGIN or NOLOGIN for the user's role (``user deactivate`` keeps the role for history)."""
    if session.get_bind().dialect.name != "postgresql" or not user.db_role:
        return
    if _as_user_role(session):
        _alter_through_function(session, user.db_role, login=enabled)
        return
    session.execute(text(f"ALTER ROLE {_q(user.db_role)} {'LOGIN' if enabled else 'NOLOGIN'}"))


def sync_group(session: Session, user: User) -> None:
    """Membership in exactly the group role of the user's current Fokus role."""
    if session.get_bind().dialect.name != "postgresql" or not user.db_role:
        return
    wanted = GROUP_ROLES[Role(user.role)]
    if _as_user_role(session):
        _alter_through_function(session, user.db_role, group=wanted)
        return
    for group in ALL_ROLES:
        verb = "GRANT" if group == wanted else "REVOKE"
        prep = "TO" if group == wanted else "FROM"
        session.execute(text(f"{verb} {_q(group)} {prep} {_q(user.db_role)}"))


# --- connecting as the user ----------------------------------------------------------------------


class NoFokusAccountError(FokusError):
    """The database role is not mapped to an active Fokus user."""


def session_account(session: Session) -> User:
    """The active Fokus account whose login role this connection is (``session_user``);
    :class:`NoFokusAccountError` for a role without one."""
    role = session.scalar(text("SELECT session_user"))
    user = session.scalars(select(User).where(User.db_role == role, User.active.is_(True))).first()
    if user is None:
        raise NoFokusAccountError(
            f"databasrollen {role} hör inte till något aktivt Fokus-konto; kontakta administratören"
        )
    return user


def connected_user(session: Session, workstation: str) -> Any:
    """The :class:`services.auth.SessionUser` for the role this connection logged in as.

    On PostgreSQL with per-user roles the server has already checked the
    password (SCRAM); this maps ``session_user`` to ``app_user.db_role`` and
    audits the login. Raises :class:`NoFokusAccountError` for a role without
    an active Fokus account.
    """
    from services.auth import SessionUser

    user = session_account(session)
    actor = Actor(
        username=user.username, role=Role(user.role), user_id=user.id, workstation=workstation
    )
    unit = session.get(Unit, user.unit_id)
    record(session, actor, "login_success", db_role=True)
    return SessionUser(
        actor=actor,
        full_name=user.full_name,
        role=Role(user.role),
        unit_id=user.unit_id,
        unit_name=unit.name if unit is not None else "",
        is_focus=user.is_focus,
    )


def user_url(server_url: str, username: str, password: str) -> str:
    """The server's URL with the user's own role and password (for a per-user connection)."""
    from sqlalchemy.engine import make_url

    return (
        make_url(server_url)
        .set(username=db_role_name(username), password=password)
        .render_as_string(hide_password=False)
    )


def role_exists(session: Session, role: str) -> bool:
    return bool(
        session.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r").bindparams(r=role))
    )


def drop_login_role(conn: Connection, role: str) -> None:
    """Remove a login role (tests; a real deactivation uses :func:`set_login_enabled`)."""
    if role.startswith(LOGIN_PREFIX):
        conn.execute(text(f"DROP ROLE IF EXISTS {_q(role)}"))


__all__ = [
    "ALL_ROLES",
    "GROUP_ROLES",
    "InstallReport",
    "NoFokusAccountError",
    "connected_user",
    "create_login_role",
    "db_role_name",
    "install_access_control",
    "remove_access_control",
    "session_account",
    "set_login_enabled",
    "set_login_password",
    "sync_group",
    "user_url",
]
