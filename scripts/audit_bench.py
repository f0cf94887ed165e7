"""Measure what the audit hash chain costs: concurrent writers with and without it.

Usage (a PostgreSQL server where the given user may create databases):

    .venv/bin/python scripts/audit_bench.py \\
        [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] \\
        [--writers 1,4,8,16] [--tx 300] [--events 1] [--rounds 3] [--verify-events 100000]
        [--sqlite]

Each writer is a separate process with its own connection, as each
caseworker's workstation is (threads in one process would mostly measure
Python's GIL). Each runs ``--tx`` transactions of ``--events`` events, after a
short warm-up; the figures are transactions per second over the whole run
and the latency of one transaction, begin to commit.

"utan kedja" writes the event the way ``record()`` did before the chain: the
ORM adds the row and the commit flushes it. "med kedja" is ``record()`` now:
at commit it locks the head row, reserves positions and ids, hashes and
inserts. Both run on the current schema in fresh databases, which are
dropped afterwards. Last, ``--verify-events`` events are written and the
whole chain verified, to time ``audit verify``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models import AuditEvent, utcnow  # noqa: E402
from models.codes import Role  # noqa: E402
from services.audit import Actor, record, verify_chain  # noqa: E402
from services.db import _sqlite_on_connect, create_db_engine, open_database, upgrade  # noqa: E402

WARM_UP = 10


def _admin(url: str, sql: str) -> None:
    info = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _engine(url: str) -> Engine:
    """Like services.db.create_db_engine: one connection per writer process."""
    engine = create_engine(url, pool_size=1, max_overflow=0, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _worker(url: str, chained: bool, count: int, events: int, barrier: Any, out: Any) -> None:
    engine = _engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    actor = Actor(username="bench", role=Role.CASEWORKER, workstation="bench-ws")

    def one() -> None:
        with sessions.begin() as s:
            for i in range(events):
                if chained:
                    record(s, actor, "case_opened", case_id=uuid.uuid4(), i=i)
                else:  # record() before the chain
                    s.add(
                        AuditEvent(
                            event_uuid=uuid.uuid4(),
                            occurred_at=utcnow(),
                            actor="bench",
                            workstation="bench-ws",
                            action="case_opened",
                            case_id=uuid.uuid4(),
                            detail=json.dumps({"i": i}),
                        )
                    )

    for _ in range(WARM_UP):
        one()
    latencies = []
    barrier.wait()
    for _ in range(count):
        t0 = time.perf_counter()
        one()
        latencies.append(time.perf_counter() - t0)
    engine.dispose()
    out.put(latencies)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000


def _once(url: str, chained: bool, n: int, count: int, events: int) -> tuple[float, float, float]:
    """One run of ``n`` writers: (transactions per second, p50 ms, p95 ms)."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(n + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(url, chained, count, events, barrier, out))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    latencies: list[float] = []
    for _ in procs:
        latencies.extend(out.get())
    wall = time.perf_counter() - start
    for p in procs:
        p.join()
    return len(latencies) / wall, _pct(latencies, 0.50), _pct(latencies, 0.95)


def _bench(urls: tuple[str, str], writers: list[int], count: int, events: int, rounds: int) -> None:
    """Alternate without/with the chain ``rounds`` times per writer count; print medians.

    Alternating keeps a noisy, shared machine from favouring either side.
    """
    plain_url, chain_url = urls
    print(f"{'':>9}{'utan kedja':>32}   {'med kedja':>32}")
    print(f"{'skrivare':>9}" + f"{'tx/s':>10}{'p50 ms':>11}{'p95 ms':>11}   " * 2)
    for n in writers:
        runs: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
        for _ in range(rounds):
            for chained in (False, True):
                url = chain_url if chained else plain_url
                runs[chained].append(_once(url, chained, n, count, events))
        cells = []
        for chained in (False, True):
            tps, p50, p95 = (statistics.median(r[i] for r in runs[chained]) for i in range(3))
            cells.append(f"{tps:>10.0f}{p50:>11.2f}{p95:>11.2f}")
        print(f"{n:>9}" + "   ".join(cells), flush=True)
    db = open_database(chain_url)
    with db.begin() as s:
        result = verify_chain(s)
    db.dispose()
    assert result.ok, result.message
    print(f"kedjan efteråt: {result.message}")


def _verify_speed(url: str, count: int) -> None:
    db = open_database(url)
    actor = Actor(username="bench", role=Role.CASEWORKER, workstation="bench-ws")
    t0 = time.perf_counter()
    for start in range(0, count, 1000):
        with db.begin() as s:
            for i in range(start, min(count, start + 1000)):
                record(s, actor, "case_opened", case_id=uuid.uuid4(), i=i)
    written = time.perf_counter() - t0
    t0 = time.perf_counter()
    with db.begin() as s:
        result = verify_chain(s)
    took = time.perf_counter() - t0
    assert result.ok and result.checked >= count, result.message
    print(
        f"{db.engine.dialect.name}: {count} händelser skrivna på {written:.1f} s "
        f"(1000 per transaktion); verify {took:.1f} s = {result.checked / took:,.0f} händelser/s"
    )
    db.dispose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--writers", default="1,4,8,16", help="antal samtidiga skrivare (processer)")
    p.add_argument("--tx", type=int, default=300, help="transaktioner per skrivare")
    p.add_argument("--events", type=int, default=1, help="händelser per transaktion")
    p.add_argument("--rounds", type=int, default=3, help="körningar per mätpunkt (median)")
    p.add_argument("--verify-events", type=int, default=100_000)
    p.add_argument("--sqlite", action="store_true", help="mät också en SQLite-fil (i /tmp)")
    args = p.parse_args()
    writers = [int(t) for t in args.writers.split(",")]

    names = [f"fokus_bench_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    base = make_url(args.admin_url)
    urls = [base.set(database=n).render_as_string(hide_password=False) for n in names]
    for name in names:
        _admin(args.admin_url, f'CREATE DATABASE "{name}"')
    try:
        for url in urls:
            engine = create_db_engine(url)
            upgrade(engine)
            engine.dispose()
        engine = create_db_engine(args.admin_url)
        with engine.connect() as conn:
            settings = {
                k: conn.execute(text(f"SHOW {k}")).scalar_one()
                for k in ("server_version", "synchronous_commit", "fsync", "wal_sync_method")
            }
        engine.dispose()
        print("PostgreSQL", ", ".join(f"{k}={v}" for k, v in settings.items()))
        print(
            f"{args.tx} transaktioner per skrivare, {args.events} händelse(r) per transaktion, "
            f"median av {args.rounds} körningar; {os.cpu_count()} CPU, "
            f"belastning {os.getloadavg()[0]:.1f}"
        )
        _bench((urls[0], urls[1]), writers, args.tx, args.events, args.rounds)
        print(f"belastning efteråt {os.getloadavg()[0]:.1f}")
        if args.verify_events:
            _verify_speed(urls[2], args.verify_events)
    finally:
        for name in names:
            _admin(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if args.sqlite:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite (en fil, flera processer)")
            for mode in ("plain", "chain"):
                open_database(f"sqlite:///{tmp}/{mode}.db").dispose()
            urls_sqlite = (f"sqlite:///{tmp}/plain.db", f"sqlite:///{tmp}/chain.db")
            _bench(urls_sqlite, writers, args.tx, args.events, args.rounds)
            if args.verify_events:
                _verify_speed(f"sqlite:///{tmp}/verify.db", args.verify_events)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
