"""Which cases have a protected member: table ``case_protected``, kept by triggers.

Every list of cases a user sees asks which cases hold a person with
skyddade personuppgifter (services.access.case_scope_condition). This
revision stores the answer: one row per such case (a member of any period
counts), kept exactly current by triggers on ``household_member`` and
``person`` in the same statement as the change (see models/protected.py for
why triggers, and why PostgreSQL's are SECURITY DEFINER functions that take
advisory locks). The upgrade fills the table from the existing rows. The
definitions are written out here so this revision stays what it was when the
model code changes. The downgrade drops the triggers, functions and table.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# "No protected member of this case is left": the condition for removing a case's row.
_NONE_LEFT = (
    "NOT EXISTS (SELECT 1 FROM household_member hm JOIN person p ON p.id = hm.person_id "
    "WHERE hm.case_id = {case} AND p.protection IS NOT NULL)"
)
_IS_PROTECTED = "EXISTS (SELECT 1 FROM person WHERE id = {person} AND protection IS NOT NULL)"

SQLITE_TRIGGERS = {
    "case_protected_member_insert": (
        "CREATE TRIGGER case_protected_member_insert AFTER INSERT ON household_member "
        f"WHEN {_IS_PROTECTED.format(person='NEW.person_id')} "
        "BEGIN INSERT OR IGNORE INTO case_protected (case_id) VALUES (NEW.case_id); END"
    ),
    "case_protected_member_delete": (
        "CREATE TRIGGER case_protected_member_delete AFTER DELETE ON household_member "
        "WHEN EXISTS (SELECT 1 FROM case_protected WHERE case_id = OLD.case_id) "
        "BEGIN DELETE FROM case_protected WHERE case_id = OLD.case_id "
        f"AND {_NONE_LEFT.format(case='OLD.case_id')}; END"
    ),
    "case_protected_member_update": (
        "CREATE TRIGGER case_protected_member_update "
        "AFTER UPDATE OF case_id, person_id ON household_member "
        "BEGIN DELETE FROM case_protected WHERE case_id = OLD.case_id "
        f"AND {_NONE_LEFT.format(case='OLD.case_id')}; "
        "INSERT OR IGNORE INTO case_protected (case_id) SELECT NEW.case_id "
        f"WHERE {_IS_PROTECTED.format(person='NEW.person_id')}; END"
    ),
    "case_protected_person_update": (
        "CREATE TRIGGER case_protected_person_update AFTER UPDATE OF protection, id ON person "
        "WHEN (OLD.protection IS NULL) <> (NEW.protection IS NULL) OR OLD.id <> NEW.id "
        "BEGIN INSERT OR IGNORE INTO case_protected (case_id) "
        "SELECT hm.case_id FROM household_member hm "
        "WHERE hm.person_id = NEW.id AND NEW.protection IS NOT NULL; "
        "DELETE FROM case_protected WHERE case_id IN (SELECT hm.case_id FROM household_member hm "
        "WHERE hm.person_id IN (OLD.id, NEW.id)) "
        f"AND {_NONE_LEFT.format(case='case_protected.case_id')}; END"
    ),
    # Memberships normally go before their person (foreign key); this keeps the table
    # right when they did not (a file with foreign keys off).
    "case_protected_person_delete": (
        "CREATE TRIGGER case_protected_person_delete AFTER DELETE ON person "
        "WHEN OLD.protection IS NOT NULL "
        "BEGIN DELETE FROM case_protected WHERE case_id IN (SELECT hm.case_id "
        "FROM household_member hm WHERE hm.person_id = OLD.id) "
        f"AND {_NONE_LEFT.format(case='case_protected.case_id')}; END"
    ),
}

# PostgreSQL: one refresh per case, serialised per case by an advisory lock, with a
# fresh snapshot after the lock (READ COMMITTED, VOLATILE): whoever refreshes a case
# last sees every change committed before. A membership insert and a person's
# protection change also serialise on the person, so neither misses the other.
PG_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION fokus_case_protected_refresh(p_case uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(13013, hashtext(p_case::text));
  IF EXISTS (SELECT 1 FROM household_member hm JOIN person p ON p.id = hm.person_id
             WHERE hm.case_id = p_case AND p.protection IS NOT NULL) THEN
    INSERT INTO case_protected (case_id) VALUES (p_case) ON CONFLICT DO NOTHING;
  ELSE
    DELETE FROM case_protected WHERE case_id = p_case;
  END IF;
END $$;

CREATE OR REPLACE FUNCTION fokus_case_protected_member() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP <> 'DELETE' THEN
    PERFORM pg_advisory_xact_lock(13014, hashtext(NEW.person_id::text));
    PERFORM fokus_case_protected_refresh(NEW.case_id);
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.case_id <> NEW.case_id) THEN
    PERFORM fokus_case_protected_refresh(OLD.case_id);
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION fokus_case_protected_person() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  ids uuid[];
  c uuid;
BEGIN
  IF TG_OP = 'DELETE' THEN
    ids := ARRAY[OLD.id];
  ELSE
    ids := ARRAY[OLD.id, NEW.id];
  END IF;
  PERFORM pg_advisory_xact_lock(13014, hashtext(i::text))
    FROM (SELECT DISTINCT unnest(ids) AS i ORDER BY 1) AS x;
  FOR c IN SELECT DISTINCT hm.case_id FROM household_member hm
           WHERE hm.person_id = ANY(ids) ORDER BY 1 LOOP
    PERFORM fokus_case_protected_refresh(c);
  END LOOP;
  RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION fokus_case_protected_refresh(uuid) FROM PUBLIC;

CREATE TRIGGER case_protected_member
AFTER INSERT OR DELETE OR UPDATE OF case_id, person_id ON household_member
FOR EACH ROW EXECUTE FUNCTION fokus_case_protected_member();

CREATE TRIGGER case_protected_person
AFTER UPDATE OF protection, id ON person FOR EACH ROW
WHEN ((OLD.protection IS NULL) IS DISTINCT FROM (NEW.protection IS NULL)
      OR OLD.id IS DISTINCT FROM NEW.id)
EXECUTE FUNCTION fokus_case_protected_person();

CREATE TRIGGER case_protected_person_delete
AFTER DELETE ON person FOR EACH ROW WHEN (OLD.protection IS NOT NULL)
EXECUTE FUNCTION fokus_case_protected_person();
"""

PG_DROP = r"""
DROP TRIGGER IF EXISTS case_protected_person_delete ON person;
DROP TRIGGER IF EXISTS case_protected_person ON person;
DROP TRIGGER IF EXISTS case_protected_member ON household_member;
DROP FUNCTION IF EXISTS fokus_case_protected_person();
DROP FUNCTION IF EXISTS fokus_case_protected_member();
DROP FUNCTION IF EXISTS fokus_case_protected_refresh(uuid);
"""


def upgrade() -> None:
    op.create_table(
        "case_protected",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["fs_case.id"],
            name=op.f("fk_case_protected_case_id_fs_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_protected")),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO case_protected (case_id) SELECT DISTINCT hm.case_id "
        "FROM household_member hm JOIN person p ON p.id = hm.person_id "
        "WHERE p.protection IS NOT NULL"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)
    else:
        for sql in SQLITE_TRIGGERS.values():
            op.execute(sql)
    # Fresh statistics, so the planners see how few rows the table holds.
    op.execute("ANALYZE case_protected")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_DROP)
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("case_protected")
