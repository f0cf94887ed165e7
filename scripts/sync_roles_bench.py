"""Sync of 1,000 changed cases on a PostgreSQL bench database: as the owner and as the
caseworker's own database role, alternated.

Usage (on a database ``python main.py bench --url URL`` has seeded; the owner's URL)::

    python scripts/sync_roles_bench.py postgresql+psycopg://postgres@127.0.0.1:5432/DB --rounds 2

Each round runs :func:`services.bench.sync_1000_s` (the bench's own figure: checkout and
sync as the owner, Fokus checking the password), then the same work as a new caseworker
connected as her own login role (``fokus_u_…``) through a URL without a database user, as a
workstation does: ``offline checkout`` (:func:`services.offline.checkout` on
:func:`services.role_login.connect_central`), one signed note and a new town per case on the
laptop, a new summary on a tenth of them centrally, then :func:`services.sync.sync_as_user`
(timed) and a sync with nothing to do. Wall time and this process's CPU time are printed per
step; the server's own CPU is not in the client figure. The login roles made here are
dropped at the end (roles are server-wide); the users and their checkouts stay in the bench
database, which is made for this.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text, update  # noqa: E402
from sqlalchemy.engine import URL, make_url  # noqa: E402

from models import Agency, Case, ContactMethod, Unit  # noqa: E402
from models.codes import Role  # noqa: E402
from services import bench as bench_mod  # noqa: E402
from services import offline  # noqa: E402
from services.audit import Actor  # noqa: E402
from services.journal import NoteInput, add_note_in  # noqa: E402
from services.pg_roles import create_login_role, drop_login_role  # noqa: E402
from services.role_login import connect_central  # noqa: E402
from services.sync import sync_as_user  # noqa: E402
from services.users import UserInput, create_user_in  # noqa: E402


@contextmanager
def measured(label: str, out: Callable[[str], None]) -> Iterator[None]:
    wall, cpu = time.monotonic(), time.process_time()
    yield
    out(f"{label}: {time.monotonic() - wall:.2f} s wall, {time.process_time() - cpu:.2f} s CPU")


def server_url(owner_url: str) -> str:
    parsed = make_url(owner_url)
    return URL.create(
        parsed.drivername, host=parsed.host, port=parsed.port, database=parsed.database
    ).render_as_string(hide_password=False)


def role_round(bench: Any, out: Callable[[str], None], roles: list[str]) -> None:
    owner = bench.db
    tag = uuid.uuid4().hex[:6]
    username, password = f"bench-roll-{tag}", f"bench-roll-{uuid.uuid4().hex[:8]}"
    with owner.begin() as s:
        ids = bench_mod.sync_case_ids(s, bench)
        unit = s.get(Unit, s.scalar(select(Case.unit_id).where(Case.id == ids[0])))
        assert unit is not None
        cli = Actor.cli()
        user = create_user_in(
            s,
            cli,
            UserInput(
                username=username,
                full_name="Bench Roll",
                role=Role.CASEWORKER,
                unit_name=unit.name,
                password=password,
            ),
        )
        roles.append(create_login_role(s, cli, user, password))
        user_id = user.id
        s.execute(update(Case).where(Case.id.in_(ids)).values(caseworker_id=user_id))
    url = server_url(bench.url)
    work = Path(tempfile.mkdtemp(prefix="fokus-sync-roles-"))
    try:
        path = work / "laptop.fokus"
        central = connect_central(url, username, password)
        try:
            with central.begin() as s:
                assert s.scalar(text("SELECT current_user")) == roles[-1]
            with measured(f"  role: checkout of {len(ids)} cases", out):
                result = offline.checkout(central, path, username, password)
        finally:
            central.dispose()
        assert len(result.case_numbers) == len(ids), len(result.case_numbers)
        local = offline.open_local(path, password)
        try:
            actor = Actor(username=username, role=Role.CASEWORKER, user_id=user_id)
            when = datetime.now(UTC) - timedelta(hours=1)
            with local.begin() as ls:
                local_ids = list(ls.scalars(select(Case.id)))
                agency = bench_mod._first_code(ls, Agency)
                method = bench_mod._first_code(ls, ContactMethod)
                for case_id in local_ids:
                    add_note_in(
                        ls,
                        actor,
                        case_id,
                        NoteInput(
                            occurred_at=when,
                            agency_code=agency,
                            method_code=method,
                            text="Hembesök. Avstämning av planen; nästa besök om två veckor.",
                        ),
                        sign=True,
                    )
                ls.execute(update(Case).where(Case.id.in_(local_ids)).values(town=f"Järna {tag}"))
            with owner.begin() as s:
                s.execute(
                    update(Case)
                    .where(Case.id.in_(local_ids[: len(local_ids) // 10]))
                    .values(summary=f"Ändrad centralt {tag}.", version=Case.version + 1)
                )
            with measured("  role: sync of 1,000 changed cases", out):
                done = sync_as_user(url, local, password, workstation="bench")
            out(
                f"    pushed {done.pushed}, pulled {done.pulled}, compared {done.compared}, "
                f"audit {done.audit_uploaded}, conflicts {len(done.conflicts)}"
            )
            with measured("  role: sync with nothing to do", out):
                again = sync_as_user(url, local, password, workstation="bench")
            out(f"    compared {again.compared}")
        finally:
            local.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the bench database's owner URL (PostgreSQL)")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    out = print
    bench = bench_mod.prepare_database(args.url, cases=args.cases, progress=out)
    roles: list[str] = []
    try:
        for n in range(args.rounds):
            out(f"round {n + 1}, load average {os.getloadavg()}")
            cpu = time.process_time()
            value, why = bench_mod.sync_1000_s(bench, lambda _line: None)
            out(
                f"  owner: sync_1000_s {value:.2f} s wall ({why or 'bench figure'}); "
                f"checkout + edits + sync {time.process_time() - cpu:.2f} s CPU"
            )
            role_round(bench, out, roles)
    finally:
        with bench.db.engine.begin() as conn:
            for role in roles:
                drop_login_role(conn, role)
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
