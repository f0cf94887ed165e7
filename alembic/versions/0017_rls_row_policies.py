"""Row-level security priced per row: policies test each row, not the whole visible set.

PostgreSQL only (SQLite has no row-level security: nothing changes there). Until now
every policy tested ``case_id IN (SELECT fokus_visible_case_ids())``: a definer function
building every case the user may open, once per statement. At 100,000 cases that cost
about half a second per statement (a second for persons), for every statement a user's
own role ran, however few rows it touched; an arbetsledare's set is the whole unit.

This revision installs the current definitions of services/pg_roles.py
(``install_access_control``): ``fs_case``'s policies, one per group role, are the access
matrix on the row's own columns (``case_row_condition``) with the user's unit, role,
stand-ins, shares, named cases and nödåtkomst as per-statement constants (InitPlans) and
the protected cases a hashed set from ``case_protected``; tables with a ``case_id`` probe
``fs_case`` by key (its policy applies inside), tables with a ``person_id`` probe
``person``; ``person`` probes ``household_member``.

The downgrade restores the definitions of revision 0016, written out here (migration
0004 installs whatever services/pg_roles.py holds at the time, so the code cannot be
asked for them): the set functions' old bodies, the old policy expressions, and no new
function left behind. tests/test_rls_policies.py compares the result with a snapshot of
what 0016's code installed.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    from services.pg_roles import install_access_control

    install_access_control(conn)


# --- revision 0016's definitions, for the downgrade ----------------------------------------

_OLD_FUNCTIONS = r"""
-- The access matrix of services/access.py (case_scope_condition), for session_user:
-- the ids of every case the user may open. Policies test "case_id IN (SELECT
-- fokus_visible_case_ids())", which PostgreSQL evaluates once per statement (a
-- hashed subplan), not once per row.
CREATE OR REPLACE FUNCTION fokus_visible_case_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH me AS (SELECT id, unit_id, role FROM app_user WHERE db_role = session_user AND active),
       day AS (SELECT (now() AT TIME ZONE 'Europe/Stockholm')::date AS d),
       regular AS (
         SELECT c.id FROM fs_case c JOIN me ON c.unit_id = me.unit_id
         WHERE me.role = 'team_leader'
         UNION ALL
         SELECT c.id FROM fs_case c JOIN me ON c.unit_id = me.unit_id CROSS JOIN day
         WHERE me.role = 'caseworker'
           AND (c.caseworker_id = me.id
                OR c.caseworker_id IN (
                   SELECT s.absent_user_id FROM stand_in s
                   WHERE s.substitute_user_id = me.id AND s.revoked_at IS NULL
                     AND s.valid_from <= day.d AND s.valid_to >= day.d)
                OR c.id IN (
                   SELECT sh.case_id FROM case_share sh
                   WHERE sh.user_id = me.id AND sh.revoked_at IS NULL
                     AND sh.valid_from <= day.d AND sh.valid_to >= day.d)))
  SELECT r.id FROM regular r
  WHERE r.id NOT IN (SELECT hm.case_id FROM household_member hm
                     JOIN person p ON p.id = hm.person_id WHERE p.protection IS NOT NULL)
     OR r.id IN (SELECT n.case_id FROM case_named_staff n JOIN me ON n.user_id = me.id)
  UNION
  SELECT e.case_id FROM emergency_access e JOIN me ON e.user_id = me.id
  WHERE e.granted_at <= now() AND e.expires_at > now()
$$;

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
END $$;

-- One case (for the few places that test a single row).
CREATE OR REPLACE FUNCTION fokus_case_visible(p_case uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT p_case IN (SELECT fokus_visible_case_ids())
$$;
"""

_NEW_FUNCTIONS = (
    "fokus_leader_unit_id()",
    "fokus_caseworker_id()",
    "fokus_case_protected_raw(uuid)",
    "fokus_emergency_case_ids()",
    "fokus_named_case_ids()",
    "fokus_shared_case_ids()",
    "fokus_stand_in_for_ids()",
    "fokus_current_role()",
)

_CASES = "case_id IN (SELECT fokus_visible_case_ids())"
_PERSONS = "person_id IN (SELECT fokus_visible_person_ids())"

# (table, policy, USING, WITH CHECK): the policies 0016 wrote by name; ALTER POLICY keeps
# their commands and roles, which this revision does not change.
_OLD_POLICIES = (
    (
        "audit_event",
        "fokus_read",
        "user_id = fokus_current_user_id() "
        "OR case_id IN (SELECT fokus_visible_case_ids()) "
        "OR (user_id IS NOT NULL AND EXISTS (SELECT 1 FROM app_user u "
        "    WHERE u.id = audit_event.user_id AND fokus_is_team_leader_of(u.unit_id)))",
        None,
    ),
    # 0017 gives these to fokus_caseworker only, and the arbetsledare policies of their own;
    # audit_event's fokus_read to the case roles, and the administratör one of its own.
    ("fs_case", "fokus_read", "id IN (SELECT fokus_visible_case_ids())", None),
    ("fs_case", "fokus_change", "id IN (SELECT fokus_visible_case_ids())", None),
    (
        "person",
        "fokus_scope",
        "id IN (SELECT fokus_visible_person_ids())",
        "id IN (SELECT fokus_visible_person_ids()) OR fokus_person_unattached(id)",
    ),
    (
        "person_identifier",
        "fokus_scope",
        "person_id IN (SELECT fokus_visible_person_ids())",
        "person_id IN (SELECT fokus_visible_person_ids())",
    ),
    (
        "contact_entry_member",
        "fokus_scope",
        "entry_id IN (SELECT e.id FROM contact_entry e "
        "WHERE e.case_id IN (SELECT fokus_visible_case_ids()))",
        "entry_id IN (SELECT e.id FROM contact_entry e "
        "WHERE e.case_id IN (SELECT fokus_visible_case_ids()))",
    ),
    (
        "case_named_staff",
        "fokus_scope",
        "case_id IN (SELECT fokus_visible_case_ids()) AND (user_id = fokus_current_user_id() "
        "OR fokus_is_team_leader_of((SELECT unit_id FROM fs_case c WHERE c.id = case_id)))",
        "case_id IN (SELECT fokus_visible_case_ids()) AND (user_id = fokus_current_user_id() "
        "OR fokus_is_team_leader_of((SELECT unit_id FROM fs_case c WHERE c.id = case_id)))",
    ),
    (
        "offline_checkout_case",
        "fokus_create",
        None,
        "case_id IN (SELECT fokus_visible_case_ids()) AND checkout_id IN "
        "(SELECT c.id FROM offline_checkout c WHERE c.user_id = fokus_current_user_id())",
    ),
)
# Tables whose fokus_scope policy is written by name (above, or unchanged by this revision);
# every other fokus_scope policy is 0016's generic rule for a case_id or person_id table.
_NAMED_SCOPE = {
    "person",
    "person_identifier",
    "contact_entry_member",
    "case_named_staff",
    "case_share",
    "stand_in",
    "emergency_access",
}


# The roles of the policies 0017 narrowed to some of them.
_OLD_ROLES = {
    "fs_case": '"fokus_caseworker", "fokus_team_leader"',
    "audit_event": '"fokus_admin", "fokus_caseworker", "fokus_team_leader"',
}
# Policies 0017 added: per group role on fs_case, and the administratör's on the audit log.
_NEW_POLICIES = (
    ("fs_case", "fokus_read_leader"),
    ("fs_case", "fokus_change_leader"),
    ("audit_event", "fokus_read_admin"),
)


def _alter(table: str, policy: str, using: str | None, check: str | None) -> None:
    roles = f" TO {_OLD_ROLES[table]}" if table in _OLD_ROLES and using else ""
    clauses = (f" USING ({using})" if using else "") + (f" WITH CHECK ({check})" if check else "")
    op.execute(f'ALTER POLICY "{policy}" ON "{table}"{roles}{clauses}')


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    existing = {
        (t, p)
        for t, p in conn.execute(
            sa.text(
                "SELECT tablename, policyname FROM pg_policies "
                "WHERE schemaname = current_schema() AND policyname LIKE 'fokus_%'"
            )
        )
    }
    if not existing:  # access control was never installed (or was removed): nothing to do
        return
    op.execute(_OLD_FUNCTIONS)
    for table, policy, using, check in _OLD_POLICIES:
        if (table, policy) in existing:
            _alter(table, policy, using, check)
    inspector = sa.inspect(conn)
    for table, policy in sorted(existing):
        if policy != "fokus_scope" or table in _NAMED_SCOPE:
            continue
        cols = {c["name"]: c for c in inspector.get_columns(table)}
        if "case_id" in cols:
            predicate = _CASES
            if cols["case_id"]["nullable"] and "person_id" in cols:
                predicate = f"{_CASES} OR (case_id IS NULL AND {_PERSONS})"
        elif "person_id" in cols:
            predicate = _PERSONS
        else:
            continue
        _alter(table, policy, predicate, predicate)
    # 0017 turned JIT off for the login roles (services/pg_roles.py, LOGIN_ROLE_SETTINGS).
    # Roles are the cluster's: only this database's users' roles, not another
    # database's on the same server (a parallel test worker, another unit).
    op.execute(
        "DO $$ DECLARE r text; BEGIN FOR r IN SELECT DISTINCT m.rolname FROM pg_roles m "
        "JOIN pg_auth_members a ON a.member = m.oid JOIN pg_roles g ON g.oid = a.roleid "
        "WHERE g.rolname IN ('fokus_caseworker', 'fokus_team_leader', 'fokus_admin') "
        "AND m.rolname LIKE 'fokus\\_u\\_%' AND NOT m.rolsuper "
        "AND m.rolname IN (SELECT db_role FROM app_user WHERE db_role IS NOT NULL) LOOP "
        "BEGIN EXECUTE format('ALTER ROLE %I RESET jit', r); "
        "EXCEPTION WHEN insufficient_privilege THEN NULL; END; END LOOP; END $$"
    )
    for table, policy in _NEW_POLICIES:
        op.execute(f'DROP POLICY IF EXISTS "{policy}" ON "{table}"')
    for fn in _NEW_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
