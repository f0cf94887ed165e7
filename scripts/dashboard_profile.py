"""Per statement: what ``stats`` and the dashboard's load cost, on a bench database.

Usage (run from the checkout whose code is measured; the database is only read,
apart from the audit event the dashboard writes, as the window does):

    .venv/bin/python scripts/dashboard_profile.py URL [--runs 3] [--wall] [--json FILE]

Each run is what ``services.bench.dashboard_ms`` times: ``stats`` in one read
transaction, then ``DashboardService.load`` as the unit's arbetsledare. A
``before_cursor_execute`` hook charges each statement the time until the next
statement starts (so fetching its rows and building the result are included),
labelled by the service functions that ran it. CPU time of this process by
default (SQLite: the work is in-process; compare old and new code on copies of
the same file, alternated, on a loaded machine); ``--wall`` for PostgreSQL,
where the server does the work. ``--json`` writes the figures themselves, to
check that two versions give the same ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path.cwd()))  # the checkout being measured

from sqlalchemy import event, select  # noqa: E402

from models import Case, User  # noqa: E402
from models.codes import Role  # noqa: E402
from services.bench import _dashboard_loader  # noqa: E402
from services.db import open_database  # noqa: E402
from services.longterm import stats  # noqa: E402
from services.settings import load_settings  # noqa: E402


def _label() -> str:
    names = []
    for frame in reversed(traceback.extract_stack()):
        if "/services/" in frame.filename and not frame.filename.endswith("db.py"):
            names.append(f"{Path(frame.filename).stem}.{frame.name}")
            if len(names) == 2:
                break
    return " < ".join(names) or "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wall", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    clock = time.perf_counter if args.wall else time.process_time
    db = open_database(args.url)
    settings = load_settings()
    state: dict[str, Any] = {"open": None, "run": []}

    def close() -> None:
        if state["open"] is not None:
            label, start = state["open"]
            state["run"].append((label, (clock() - start) * 1000))
            state["open"] = None

    @event.listens_for(db.engine, "before_cursor_execute")
    def _before(*_args: Any) -> None:
        close()
        state["open"] = (f"{_label()} #{len(state['run'])}", clock())

    with db.begin() as s:
        unit_id = s.scalar(select(Case.unit_id).limit(1))
        leader = s.execute(
            select(User.id, User.username).where(
                User.unit_id == unit_id, User.role == Role.TEAM_LEADER.value
            )
        ).first()
    load = _dashboard_loader(db, leader, settings)
    per: dict[str, list[float]] = defaultdict(list)
    totals = []
    figures: Any = None
    for i in range(args.runs + 1):  # the first is a warm-up
        state["run"] = []
        t0 = clock()
        with db.begin() as s:
            figures = stats(s, settings=settings)
        close()
        t1 = clock()
        dashboard = load(unit_id)
        close()
        t2 = clock()
        if i:
            totals.append(((t1 - t0) * 1000, (t2 - t1) * 1000))
            for label, ms in state["run"]:
                per[label].append(ms)
    unit = "wall" if args.wall else "CPU"
    for label, values in sorted(per.items(), key=lambda kv: -statistics.median(kv[1])):
        if statistics.median(values) >= 2:
            print(f"{statistics.median(values):8.1f} ms  {label}")
    for a, b in totals:
        print(f"{unit}: stats {a:.0f} ms + dashboard {b:.0f} ms = {a + b:.0f} ms")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"stats": figures, "dashboard": repr(dashboard)}, default=str, indent=1)
        )
    db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
