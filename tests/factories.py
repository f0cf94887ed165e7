"""Small builders for test data that go through the real services."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from models.codes import MemberRole, Role
from services.audit import Actor
from services.cases import CaseInput, CaseRef, CaseService, MemberInput
from services.db import Database, open_database
from services.demo import seed_demo
from services.persons import PersonInput

KARIN = PersonInput(first_name="Karin", last_name="Nyström", personal_id="19780214-3524")
OSKAR = PersonInput(first_name="Oskar", last_name="Nyström", personal_id="20120630-2844")
BENGT = PersonInput(first_name="Bengt", last_name="Åkesson", personal_id="19650909-5714")
MARIE = PersonInput(first_name="Marie", last_name="Åkesson", personal_id="19681122-4028")
ALI = PersonInput(first_name="Ali", last_name="Yilmaz", personal_id="20010417-8132")
SAMORD = PersonInput(first_name="Goran", last_name="Öberg", personal_id="19920274-3218")


def make_case(
    service: CaseService,
    unit_id: uuid.UUID,
    *members: tuple[MemberRole, PersonInput],
    opened_on: date = date(2024, 5, 2),
    **kwargs: object,
) -> CaseRef:
    return service.create_case(
        CaseInput(
            unit_id=unit_id,
            opened_on=opened_on,
            members=[MemberInput(role=r, person=p) for r, p in members],
            **kwargs,  # type: ignore[arg-type]
        )
    )


@dataclass(frozen=True)
class LoginUser:
    """A user with their own PostgreSQL login role, as ``user add`` makes them."""

    username: str
    password: str
    role_name: str
    user_id: uuid.UUID
    unit_id: uuid.UUID


def add_login_user(db: Database, name: str, role: Role, unit: str) -> LoginUser:
    """What ``user add`` does on PostgreSQL: the user and their login role, one
    transaction. The username gets a random tail: login roles are server-wide."""
    from services import pg_roles
    from services.audit import Actor
    from services.users import UserInput, create_user_in

    cli = Actor.cli()
    password = f"Lösen-{uuid.uuid4().hex[:10]}"
    username = f"{name}{uuid.uuid4().hex[:6]}"
    with db.begin() as s:
        user = create_user_in(
            s,
            cli,
            UserInput(
                username=username,
                full_name=name.title(),
                role=role,
                unit_name=unit,
                password=password,
            ),
        )
        role_name = pg_roles.create_login_role(s, cli, user, password)
        return LoginUser(username, password, role_name, user.id, user.unit_id)


@contextmanager
def seeded_sqlite(path: Path, *, cases: int, seed: int, as_of: date) -> Iterator[Database]:
    """A new SQLite file at ``path`` with ``cases`` demo cases (seed-demo), open until the
    block ends."""
    db = open_database(f"sqlite:///{path}")
    try:
        seed_demo(db, Actor.cli(), cases=cases, seed=seed, as_of=as_of)
        yield db
    finally:
        db.dispose()
