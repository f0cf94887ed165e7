"""``python main.py bench``: runs end to end, writes every key, refuses other databases.

The bench is a measurement, not a timed test: these tests check that it
runs on a small database (SQLite and PostgreSQL) and reports every figure
as a number (or null where it does not apply), never the figures' values.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from services.bench import KEYS, MARKER_TABLE, TARGETS, percentile, search_queries
from services.db import create_db_engine, open_database

ROOT = Path(__file__).resolve().parent.parent
CASES = 500
# Figures that are null by definition on SQLite (sync) or may be, with a reason in "notes".
NULL_ON_SQLITE = {"sync_1000_s"}


def _run(args: list[str], work: Path, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["FOKUS_CONFIG_DIR"] = str(work / "config")
    env["FOKUS_DATA_DIR"] = str(work / "data")
    env.pop("FOKUS_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _check_figures(data: dict[str, Any], *, null_allowed: set[str]) -> None:
    missing = [k for k in KEYS if k not in data]
    assert not missing, f"keys missing from the JSON: {missing}"
    for key in KEYS:
        value = data[key]
        if key in null_allowed:
            assert value is None or isinstance(value, int | float), (key, value)
            if value is None:
                assert data["notes"].get(key), f"{key} is null without a reason"
            continue
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value) and value >= 0, (key, value)
    assert data["seed_cases"] == CASES


@pytest.fixture(scope="module")
def sqlite_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    """One small bench run on a new SQLite file: (database file, JSON file, stdout, stderr)."""
    work = tmp_path_factory.mktemp("bench")
    db_file, out = work / "bench.db", work / "bench.json"
    proc = _run(
        ["bench", "--cases", str(CASES), "--runs", "1", "--url", f"sqlite:///{db_file}",
         "--json", str(out)],
        work,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return db_file, out, proc.stdout, proc.stderr


def test_sqlite_run_writes_every_key(sqlite_run: tuple[Path, Path, str, str]) -> None:
    _db_file, out, stdout, stderr = sqlite_run
    data = json.loads(out.read_text(encoding="utf-8"))
    _check_figures(data, null_allowed=NULL_ON_SQLITE)
    assert data["sync_1000_s"] is None  # no PostgreSQL: does not apply
    assert data["meta"]["backend"] == "SQLite"
    assert data["references"]["qsqlquerymodel_first_rows_ms"] > 0
    assert data["references"]["bare_reportlab_200_ms"] > 0
    # The table names every key with its target; progress went to stderr, not stdout.
    for t in TARGETS:
        assert t.key in stdout
    assert "uppfyllt" in stdout
    assert "bench: " in stderr and "bench: " not in stdout


def test_the_bench_database_is_marked_and_holds_the_fixtures(
    sqlite_run: tuple[Path, Path, str, str],
) -> None:
    db_file = sqlite_run[0]
    db = open_database(f"sqlite:///{db_file}")
    try:
        with db.begin() as s:
            marker = dict(s.execute(text(f"SELECT key, value FROM {MARKER_TABLE}")).all())
            assert marker["state"] == "ready" and marker["cases"] == str(CASES)
            notes = s.execute(
                text("SELECT count(*) FROM contact_entry WHERE case_id = :c"),
                {"c": marker["open_case_id"].replace("-", "")},
            ).scalar_one()
        assert notes == 1000
    finally:
        db.dispose()


def test_a_marked_database_of_another_size_is_refused(
    sqlite_run: tuple[Path, Path, str, str], tmp_path: Path
) -> None:
    db_file = sqlite_run[0]
    proc = _run(["bench", "--cases", "300", "--url", f"sqlite:///{db_file}"], tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fokus: --cases: ")
    assert str(CASES) in lines[0] and "Traceback" not in proc.stderr


def test_a_database_the_bench_did_not_create_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "real.db"
    open_database(f"sqlite:///{path}").dispose()  # migrated, but not a bench database
    before = path.read_bytes()
    proc = _run(["bench", "--cases", "5", "--url", f"sqlite:///{path}"], tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("fokus: --url: ") and "bench" in lines[0]
    assert path.read_bytes() == before  # nothing written


@pytest.mark.postgres
def test_a_postgres_database_with_a_schema_is_refused(pg_url: str, tmp_path: Path) -> None:
    proc = _run(["bench", "--cases", "5", "--url", pg_url], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("fokus: --url: "), proc.stderr
    engine = create_db_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM fs_case")).scalar_one() == 0
            assert not conn.execute(
                text("SELECT 1 FROM information_schema.tables WHERE table_name = :t"),
                {"t": MARKER_TABLE},
            ).first()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_run_writes_every_key(pg_empty_url: str, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = _run(
        ["bench", "--cases", str(CASES), "--runs", "1", "--url", pg_empty_url, "--json", str(out)],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    # The QSqlQueryModel ratios need Qt's QPSQL plugin (libpq); sync needs the sync service.
    _check_figures(
        data,
        null_allowed={
            "sync_1000_s",
            "register_ratio_vs_qsqlquerymodel",
            "jump_end_ratio_vs_qsqlquerymodel",
            "search_ratio_vs_qsqlquerymodel",
        },
    )
    assert data["meta"]["backend"] == "PostgreSQL"


def test_search_texts_mix_every_kind(sqlite_run: tuple[Path, Path, str, str]) -> None:
    db = open_database(f"sqlite:///{sqlite_run[0]}")
    try:
        queries = search_queries(db)
    finally:
        db.dispose()
    assert len(queries) == len(set(queries)) == 200
    assert any(any(c in q for c in "åäö") for q in queries)  # name prefixes with å/ä/ö
    assert any(q.isalpha() and q.isascii() for q in queries)  # and without
    assert any(q.isdigit() and len(q) == 12 for q in queries)  # personnummer with century
    assert any(q.isdigit() and len(q) == 10 for q in queries)  # without
    assert any(len(q) == 13 and q[8] == "-" for q in queries)  # with century and dash
    assert any(len(q) == 11 and q[6] == "-" for q in queries)  # without century, with dash
    assert any(q.startswith("FS-") for q in queries)  # case numbers
    assert any(q.isdigit() and len(q) == 9 for q in queries)  # case number digits


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile([3.0], 95) == 3


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_peak_memory_is_the_gui_process_own_not_its_parents() -> None:
    """The bench starts the GUI process from one that may hold a 100,000-case seed in memory."""
    held = bytearray(400 * 1024 * 1024)
    for i in range(0, len(held), 4096):  # touch every page: resident, not just reserved
        held[i] = 1
    out = subprocess.run(
        [sys.executable, "-c", "from ui.bench import peak_rss_mb; print(peak_rss_mb())"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    del held
    assert float(out.stdout) < 300, out.stdout


def _uuid(value: object) -> object:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return value


def test_the_references_run_the_registers_own_sql_with_its_values(tmp_path: Path) -> None:
    """The register runs statements built once, with the window's key and the moment as
    bound parameters; the SQL given to the references carries those values, and returns
    the register's own rows (a NULL in their place would compare to nothing)."""
    from datetime import date

    from services.audit import Actor
    from services.bench import bench_user, register_sql, search_statements
    from services.demo import seed_demo
    from services.register import WINDOW, RegisterService
    from services.search import RegisterFilter

    db = open_database(f"sqlite:///{tmp_path / 'refs.db'}")
    try:
        seed_demo(db, Actor.cli(), cases=300, seed=4, as_of=date(2026, 6, 15))
        actor = bench_user(db).actor
        service = RegisterService(db=db, actor=actor)
        with db.engine.connect() as conn:
            sql = register_sql(db, RegisterFilter(), actor=actor)
            ids = [uuid.UUID(r[0]) for r in conn.exec_driver_sql(sql)]
            rows = service.window(RegisterFilter(), None, WINDOW, descending=True)
            assert ids == [r.id for r in rows] and len(ids) == WINDOW
            last = rows[-1].applicant_name.split()[-1][:3]
            flt = RegisterFilter(text=last)
            window = [r.id for r in service.window(flt, None, WINDOW, descending=True)]
            results = [  # each statement runs as rendered; one of them reads the rows
                [r[0] for r in conn.exec_driver_sql(sql)]
                for sql in search_statements(db, flt, actor=actor)
            ]
            assert window and [window == [_uuid(v) for v in r] for r in results].count(True) >= 1
    finally:
        db.dispose()
