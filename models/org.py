"""Units (enheter) and the users who work in them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UUIDPk, utcnow
from models.codes import Role, check_in

DEFAULT_CAP_FOCUS = 30
DEFAULT_CAP_OTHER = 75


class Unit(UUIDPk, Base):
    """An organisational unit, e.g. "Försörjningsstöd Södertälje"."""

    __tablename__ = "unit"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(UUIDPk, Base):
    """A person who logs in to Fokus (caseworker, team leader or administrator)."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(check_in("role", Role), name="role"),
        CheckConstraint("caseload_cap >= 0", name="caseload_cap"),
    )

    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("unit.id"), index=True)
    is_focus: Mapped[bool] = mapped_column(default=False)
    caseload_cap: Mapped[int] = mapped_column(default=DEFAULT_CAP_OTHER)
    active: Mapped[bool] = mapped_column(default=True)
    # Deferred: loaded only when a login checks it. On PostgreSQL a user's own role may
    # not read this column at all (services/pg_roles.py), so no query may ask for it.
    password_hash: Mapped[str | None] = mapped_column(String(200), deferred=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    # PostgreSQL: the user's own LOGIN role (services/pg_roles.py); RLS maps current_user here.
    db_role: Mapped[str | None] = mapped_column(String(63), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    unit: Mapped[Unit] = relationship()

    __mapper_args__ = {"version_id_col": version}
