"""The command line end to end: real subprocesses, real files, exit codes and messages."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import undefer

from models import AuditEvent, User
from models.codes import MemberRole
from services.audit import Actor
from services.cases import CaseService
from services.db import open_database
from tests.factories import BENGT, KARIN, MARIE, make_case

ROOT = Path(__file__).resolve().parent.parent


def fokus(*args: str, stdin: str = "", env: dict[str, str] | None = None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def test_help_lists_the_commands() -> None:
    result = fokus("--help")
    assert result.returncode == 0
    for command in ("db", "user", "case", "import-cases", "import-months", "seed-demo"):
        assert command in result.stdout


def test_db_current_and_upgrade(sqlite_url: str) -> None:
    assert fokus("db", "current", "--url", sqlite_url).stdout.startswith("ingen (tom databas)")
    up = fokus("db", "upgrade", "--url", sqlite_url)
    assert up.returncode == 0, up.stderr
    assert "uppgraderad från tom" in up.stdout
    assert fokus("db", "current", "--url", sqlite_url).stdout.strip().endswith("(senaste)")
    again = fokus("db", "upgrade", "--url", sqlite_url)
    assert "redan på senaste" in again.stdout


def test_url_precedence(tmp_path: Path) -> None:
    env_db = tmp_path / "env.db"
    settings_db = tmp_path / "settings.db"
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.toml").write_text(f'database_url = "sqlite:///{settings_db}"\n')
    env = {"FOKUS_CONFIG_DIR": str(config), "FOKUS_DATA_DIR": str(tmp_path / "data")}
    assert fokus("db", "upgrade", env=env).returncode == 0
    assert settings_db.exists() and not env_db.exists()
    env["FOKUS_DATABASE_URL"] = f"sqlite:///{env_db}"
    assert fokus("db", "upgrade", env=env).returncode == 0
    assert env_db.exists()
    cli_db = tmp_path / "cli.db"
    assert fokus("db", "upgrade", "--url", f"sqlite:///{cli_db}", env=env).returncode == 0
    assert cli_db.exists()
    del env["FOKUS_DATABASE_URL"]
    (config / "settings.toml").unlink()
    assert fokus("db", "upgrade", env=env).returncode == 0
    assert (tmp_path / "data" / "fokus.db").exists()


def test_user_add_reads_password_from_stdin(sqlite_url: str) -> None:
    ok = fokus(
        "user",
        "add",
        "anna",
        "--name",
        "Anna Öberg",
        "--role",
        "handläggare",
        "--unit",
        "Försörjningsstöd",
        "--focus",
        "--url",
        sqlite_url,
        stdin="hemligt-lösen\n",
    )
    assert ok.returncode == 0, ok.stderr
    db = open_database(sqlite_url)
    with db.begin() as s:
        # password_hash is deferred (a PostgreSQL user role may not read it): ask for it
        anna = s.scalars(
            select(User).where(User.username == "anna").options(undefer(User.password_hash))
        ).one()
        actors = set(s.scalars(select(AuditEvent.actor)))
    db.dispose()
    assert (anna.role, anna.is_focus, anna.caseload_cap) == ("caseworker", True, 30)
    assert anna.password_hash.startswith("$argon2id$")
    assert "hemligt" not in anna.password_hash
    assert actors == {f"cli:{_os_user()}"}
    dup = fokus(
        "user",
        "add",
        "anna",
        "--name",
        "A",
        "--role",
        "arbetsledare",
        "--unit",
        "X",
        "--url",
        sqlite_url,
        stdin="hemligt-lösen\n",
    )
    assert dup.returncode == 1
    assert dup.stderr.strip() == "fokus: användarnamn: 'anna' finns redan"
    bad_role = fokus(
        "user",
        "add",
        "bo",
        "--name",
        "B",
        "--role",
        "chef",
        "--unit",
        "X",
        "--url",
        sqlite_url,
        stdin="hemligt-lösen\n",
    )
    assert bad_role.returncode == 1 and "roll: okänd roll 'chef'" in bad_role.stderr
    short = fokus(
        "user",
        "add",
        "bo",
        "--name",
        "B",
        "--role",
        "arbetsledare",
        "--unit",
        "X",
        "--url",
        sqlite_url,
        stdin="kort\n",
    )
    assert short.returncode == 1 and "lösenord: måste ha minst 8 tecken" in short.stderr


def _os_user() -> str:
    import getpass

    return getpass.getuser()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_case_list_prints_one_line_per_case(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    db = open_database(url)
    with db.begin() as s:
        from services.users import get_or_create_unit

        unit = get_or_create_unit(s, Actor.cli(), "Enheten").id
    service = CaseService(db=db, actor=Actor.cli())
    make_case(service, unit, (MemberRole.APPLICANT, KARIN), opened_on=date(2025, 1, 2))
    make_case(service, unit, (MemberRole.APPLICANT, BENGT), (MemberRole.CO_APPLICANT, MARIE))
    db.dispose()
    result = fokus("case", "list", "--url", url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "FS-2024-00001\tBengt Åkesson\taktualisering\t",
        "FS-2025-00001\tKarin Nyström\taktualisering\t",
    ]
    searched = fokus("case", "list", "--search", "åkess", "--url", url)
    assert searched.stdout.splitlines() == ["FS-2024-00001\tBengt Åkesson\taktualisering\t"]
    limited = fokus("case", "list", "--limit", "1", "--url", url)
    assert len(limited.stdout.splitlines()) == 1


def test_expected_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is no database" * 100)
    cases = [
        (["case", "list", "--url", f"sqlite:///{corrupt}"], 3, "skadad"),
        (
            ["case", "list", "--url", "postgresql+psycopg://postgres@127.0.0.1:1/x"],
            3,
            "kan inte nås",
        ),
        (["case", "list", "--url", "mysql://x@y/z"], 3, "stöds inte"),
        (["case", "list", "--limit", "abc"], 1, "ogiltigt heltal"),
        (
            ["import-cases", str(tmp_path / "missing.csv"), "--url", f"sqlite:///{tmp_path}/a.db"],
            2,
            "finns inte",
        ),
    ]
    for args, code, text in cases:
        result = fokus(*args)
        assert result.returncode == code, (args, result.stderr)
        assert text in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2  # usage line + message at most


def test_locked_sqlite_file_exits_3(sqlite_url: str, tmp_path: Path) -> None:
    open_database(sqlite_url).dispose()
    path = sqlite_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, timeout=0)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = fokus("case", "list", "--url", sqlite_url)
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode == 3, result.stderr
    assert "låst" in result.stderr and "Traceback" not in result.stderr


def test_newer_schema_exits_4(sqlite_url: str) -> None:
    db = open_database(sqlite_url)
    with db.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE alembic_version SET version_num = 'zzzz'"))
    db.dispose()
    result = fokus("case", "list", "--url", sqlite_url)
    assert result.returncode == 4
    assert "nyare" in result.stderr


@pytest.mark.postgres
def test_postgres_behind_exits_4_until_db_upgrade(pg_empty_url: str) -> None:
    result = fokus("case", "list", "--url", pg_empty_url)
    assert result.returncode == 4
    assert "db upgrade" in result.stderr
    assert fokus("db", "upgrade", "--url", pg_empty_url).returncode == 0
    assert fokus("case", "list", "--url", pg_empty_url).returncode == 0


def test_import_cases_with_unit_option(sqlite_url: str) -> None:
    for name, unit in (("a1", "Enhet Norr"), ("a2", "Enhet Söder")):
        added = fokus(
            "user",
            "add",
            name,
            "--name",
            name,
            "--role",
            "handläggare",
            "--unit",
            unit,
            "--url",
            sqlite_url,
            stdin="lösenord123\n",
        )
        assert added.returncode == 0, added.stderr
    sample = str(ROOT / "tests" / "data" / "import" / "import-exempel.csv")
    ambiguous = fokus("import-cases", sample, "--url", sqlite_url)
    assert ambiguous.returncode == 1 and ambiguous.stderr.startswith("rad 1: enhet:")
    ok = fokus("import-cases", sample, "--unit", "Enhet Söder", "--url", sqlite_url)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("3 nya, 0 fanns redan")
    db = open_database(sqlite_url)
    with db.begin() as s:
        from models import Case, Unit

        units = set(s.scalars(select(Unit.name).join(Case, Case.unit_id == Unit.id)))
    db.dispose()
    assert units == {"Enhet Söder"}


def test_export_pdf(sqlite_url: str, tmp_path: Path) -> None:
    import re

    from pypdf import PdfReader

    db = open_database(sqlite_url)
    with db.begin() as s:
        from services.users import get_or_create_unit

        unit = get_or_create_unit(s, Actor.cli(), "Enheten").id
    service = CaseService(db=db, actor=Actor.cli())
    ref = make_case(service, unit, (MemberRole.APPLICANT, KARIN), opened_on=date(2025, 1, 2))
    db.dispose()

    missing = fokus(
        "export-pdf", "FS-2025-09999", "--out", str(tmp_path / "x.pdf"), "--url", sqlite_url
    )
    assert missing.returncode == 2
    assert missing.stderr.strip() == "fokus: ärendet FS-2025-09999 finns inte"
    assert not (tmp_path / "x.pdf").exists()

    plain = tmp_path / "plain.pdf"
    ok = fokus("export-pdf", ref.case_number, "--out", str(plain), "--url", sqlite_url)
    assert ok.returncode == 0, ok.stderr
    text = "\n".join(p.extract_text() for p in PdfReader(plain).pages)
    assert "19780214-3524" in text and "Karin Nyström" in text and ref.case_number in text

    masked = tmp_path / "masked.pdf"
    ok = fokus(
        "export-pdf",
        ref.case_number,
        "--out",
        str(masked),
        "--mask-personnummer",
        "--url",
        sqlite_url,
    )
    assert ok.returncode == 0, ok.stderr
    text = "\n".join(p.extract_text() for p in PdfReader(masked).pages)
    assert "19780214-XXXX" in text
    assert not re.search(r"\d(?:\s*-\s*\d|\d){9,}", text)


def test_stats_json_is_one_object_matching_the_service(sqlite_url: str) -> None:
    import json

    from services.longterm import stats

    seeded = fokus(
        "seed-demo", "--cases", "120", "--seed", "5", "--as-of", "2026-11-01", "--url", sqlite_url
    )
    assert seeded.returncode == 0, seeded.stderr
    result = fokus("stats", "--json", "--as-of", "2026-11-01", "--url", sqlite_url)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)  # exactly one JSON document, nothing else
    for key in (
        "year",
        "as_of",
        "cases_with_support",
        "long_term_cases",
        "long_term_with_children",
        "long_term_adults",
        "very_long_term_cases",
        "caseload",
        "outcomes",
    ):
        assert key in figures
    assert (figures["year"], figures["as_of"]) == (2025, "2026-11-01")
    assert 0 < figures["long_term_cases"] <= figures["cases_with_support"] <= 120
    db = open_database(sqlite_url)
    with db.begin() as s:
        direct = stats(s, as_of=date(2026, 11, 1))
    db.dispose()
    assert figures == json.loads(json.dumps(direct))
    text = fokus("stats", "--year", "2025", "--as-of", "2026-11-01", "--url", sqlite_url)
    assert text.returncode == 0 and "Långvariga hushåll" in text.stdout
    bad = fokus("stats", "--year", "99999", "--url", sqlite_url)
    assert bad.returncode == 1 and "--year" in bad.stderr
