"""Row-level security at scale: what a user's own role pays per statement, with revision
0016's policies (the visible-set functions) and with 0017's (per row), alternated on one
PostgreSQL bench database.

Usage (on a database ``python main.py bench --url URL`` has seeded; the owner's URL, at the
current schema)::

    python scripts/rls_bench.py postgresql+psycopg://postgres@127.0.0.1:5432/DB --rounds 2
    python scripts/rls_bench.py URL --sync --rounds 2   # the role's checkout and sync
    python scripts/rls_bench.py URL --install old   # only switch the policies, then exit
    python scripts/rls_bench.py URL --install new

"old" installs what migration 0017's downgrade restores (revision 0016's definitions; the
migration test compares them with a snapshot of 0016's code) without changing the schema
version, so the same client code runs against both; "new" is ``install_access_control``.
The script always leaves the new definitions installed unless ``--install old`` was asked.

As the owner it makes (once, kept in the bench database) an arbetsledare of the unit of the
bench's 1,000-note case and a caseworker of that unit who stands in today for the unit's
busiest caseworker, each with their own login role. Then, per round and per policy set, as
each role through :func:`services.role_login.connect_as_user` (a URL without a database
user, as a workstation connects): the register's first window and its count
(:class:`services.register.RegisterService` with the user as actor), opening a case
(:class:`services.case_view.CaseViewService`), and ``SELECT count(*)`` of ``fs_case``,
``person`` and ``contact_entry``. Each is run three times; the figures are the median wall
time and this process's CPU time (the server's CPU is not in it). The login roles are
dropped at the end (they are server-wide) and the users deactivated.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic.operations import Operations  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402

from models import Case, CaseProtected, StandIn, Unit  # noqa: E402
from models.codes import Role  # noqa: E402
from services import bench as bench_mod  # noqa: E402
from services import pg_roles  # noqa: E402
from services.audit import Actor, local_today  # noqa: E402
from services.case_view import CaseViewService  # noqa: E402
from services.db import Database  # noqa: E402
from services.pg_roles import (  # noqa: E402
    create_login_role,
    drop_login_role,
    install_access_control,
    session_account,
)
from services.register import RegisterService  # noqa: E402
from services.role_login import connect_as_user  # noqa: E402
from services.search import RegisterFilter  # noqa: E402
from services.users import UserInput, create_user_in  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REPEAT = 3


def _migration_0017() -> Any:
    path = next((ROOT / "alembic" / "versions").glob("0017_*.py"))
    spec = importlib.util.spec_from_file_location("fokus_migration_0017", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def install(db: Database, which: str) -> None:
    """Revision 0016's definitions ("old") or the current ones ("new"), as the owner."""
    with db.engine.begin() as conn:
        if which == "new":
            install_access_control(conn)
            return
        ctx = MigrationContext.configure(conn)
        with Operations.context(ctx):
            _migration_0017().downgrade()


def server_url(owner_url: str) -> str:
    parsed = make_url(owner_url)
    return URL.create(
        parsed.drivername, host=parsed.host, port=parsed.port, database=parsed.database
    ).render_as_string(hide_password=False)


def make_users(bench: Any) -> tuple[list[tuple[str, str, str]], uuid.UUID, uuid.UUID]:
    """(username, password, role) of the arbetsledare and the caseworker; a case each opens."""
    tag = uuid.uuid4().hex[:6]
    made: list[tuple[str, str, str]] = []
    cli = Actor.cli()
    with bench.db.begin() as s:
        unit_id = s.scalar(select(Case.unit_id).where(Case.id == bench.open_case_id))
        unit = s.get(Unit, unit_id)
        assert unit is not None
        busiest = s.execute(
            select(Case.caseworker_id, func.count())
            .where(Case.unit_id == unit_id, Case.caseworker_id.is_not(None))
            .group_by(Case.caseworker_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()[0]
        for role, label in ((Role.TEAM_LEADER, "al"), (Role.CASEWORKER, "hl")):
            username, password = f"rls-{label}-{tag}", f"rls-{uuid.uuid4().hex[:10]}"
            user = create_user_in(
                s,
                cli,
                UserInput(
                    username=username,
                    full_name=f"Rls {label}",
                    role=role,
                    unit_name=unit.name,
                    password=password,
                ),
            )
            made.append((username, password, create_login_role(s, cli, user, password)))
            if role is Role.CASEWORKER:
                today = local_today()
                s.add(
                    StandIn(
                        absent_user_id=busiest,
                        substitute_user_id=user.id,
                        valid_from=today,
                        valid_to=today,
                        granted_by="rls_bench",
                    )
                )
        cw_case = s.scalar(
            select(Case.id)
            .where(
                Case.caseworker_id == busiest,
                Case.id.not_in(select(CaseProtected.case_id)),
            )
            .order_by(Case.case_number)
            .limit(1)
        )
        assert cw_case is not None
    return made, bench.open_case_id, cw_case


def measure(label: str, fn: Callable[[], Any], out: Callable[[str], None]) -> Any:
    walls, cpus, result = [], [], None
    for _ in range(REPEAT):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    out(
        f"    {label}: median {statistics.median(walls) * 1000:.0f} ms wall "
        f"(min {min(walls) * 1000:.0f}, max {max(walls) * 1000:.0f}), "
        f"{statistics.median(cpus) * 1000:.0f} ms client CPU"
    )
    return result


def as_role(
    url: str, username: str, password: str, case_id: uuid.UUID, out: Callable[[str], None]
) -> None:
    db = connect_as_user(url, username, password)
    try:
        with db.begin() as s:
            user = session_account(s)
            actor = Actor(username=user.username, role=Role(user.role), user_id=user.id)
            role = s.scalar(text("SELECT session_user"))
        out(f"  as {role} ({actor.role.value}):")
        register = RegisterService(db=db, actor=actor)
        rows = measure("register window", lambda: register.window(RegisterFilter()), out)
        total = measure("register count", lambda: register.count(RegisterFilter()), out)
        out(f"      ({len(rows)} rows of {total})")
        view = CaseViewService(db=db, actor=actor)
        measure("open a case (CaseViewService.load)", lambda: view.load(case_id), out)
        for table in ("fs_case", "person", "contact_entry"):

            def count(table: str = table) -> int:
                with db.begin() as s:
                    return int(s.scalar(text(f"SELECT count(*) FROM {table}")) or 0)

            n = measure(f"SELECT count(*) FROM {table}", count, out)
            out(f"      ({n} rows)")
    finally:
        db.dispose()


def sync_rounds(bench: Any, rounds: int, out: Callable[[str], None]) -> None:
    """The caseworker's checkout and sync of scripts/sync_roles_bench.py (``role_round``),
    under revision 0016's policies and login role (JIT on, as 0016 made them) and under
    the current ones, alternated."""
    spec = importlib.util.spec_from_file_location(
        "fokus_sync_roles_bench", ROOT / "scripts" / "sync_roles_bench.py"
    )
    assert spec is not None and spec.loader is not None
    sync_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync_bench)
    new_settings = pg_roles.LOGIN_ROLE_SETTINGS
    roles: list[str] = []
    try:
        for n in range(rounds):
            for which in ("old", "new"):
                install(bench.db, which)
                pg_roles.LOGIN_ROLE_SETTINGS = (
                    new_settings if which == "new" else "ALTER ROLE {} RESET jit"
                )
                out(f"sync round {n + 1}, {which} policies, load average {os.getloadavg()}")
                sync_bench.role_round(bench, out, roles)
    finally:
        pg_roles.LOGIN_ROLE_SETTINGS = new_settings
        install(bench.db, "new")
        with bench.db.engine.begin() as conn:
            for role in roles:
                drop_login_role(conn, role)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the bench database's owner URL (PostgreSQL)")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--install", choices=("old", "new"), help="only install, then exit")
    parser.add_argument(
        "--sync",
        action="store_true",
        help="instead: scripts/sync_roles_bench.py's role round under old and new, alternated",
    )
    args = parser.parse_args()
    out = print
    bench = bench_mod.prepare_database(args.url, cases=args.cases, progress=out)
    try:
        if args.install:
            install(bench.db, args.install)
            out(f"installed the {args.install} policies")
            return 0
        if args.sync:
            sync_rounds(bench, args.rounds, out)
            return 0
        users, leader_case, worker_case = make_users(bench)
        url = server_url(bench.url)
        try:
            for n in range(args.rounds):
                for which in ("old", "new"):
                    install(bench.db, which)
                    out(f"round {n + 1}, {which} policies, load average {os.getloadavg()}")
                    as_role(url, users[0][0], users[0][1], leader_case, out)
                    as_role(url, users[1][0], users[1][1], worker_case, out)
        finally:
            install(bench.db, "new")
            with bench.db.engine.begin() as conn:
                for username, _password, role in users:
                    conn.execute(
                        text("UPDATE app_user SET active = false WHERE username = :u"),
                        {"u": username},
                    )
                    drop_login_role(conn, role)
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
