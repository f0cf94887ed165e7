"""Fokus: start the desktop app (no arguments) or run an admin command.

Order: parse arguments → logging → database → command (or the GUI). Qt is
imported only when the GUI starts, so commands start fast.

Exit codes: 0 done; 1 invalid input; 2 not found; 3 database unreachable,
wrong credentials, locked or corrupt; 4 schema too old or too new.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import date
from pathlib import Path
from typing import NoReturn

from services.errors import EXIT_INVALID, FokusError, RowErrors, ValidationError

log = logging.getLogger("fokus")


class _Parser(argparse.ArgumentParser):
    """Usage errors are invalid input (exit 1), said in Swedish, without a traceback."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: fel: {message}", file=sys.stderr)
        sys.exit(EXIT_INVALID)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ogiltigt datum {text!r}, ange ÅÅÅÅ-MM-DD") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ogiltigt heltal {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("får inte vara negativt")
    return value


def build_parser() -> argparse.ArgumentParser:
    url_help = "databasens adress (annars FOKUS_DATABASE_URL, inställningsfilen, standardfilen)"
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help=url_help)

    p = _Parser(prog="fokus", description="Fokus – ärendeklient för försörjningsstöd.")
    sub = p.add_subparsers(dest="command", metavar="KOMMANDO", parser_class=_Parser)

    run = sub.add_parser(
        "gui", parents=[common], help="starta programmet (samma som utan kommando)"
    )
    run.add_argument(
        "--offline",
        type=Path,
        metavar="FIL",
        help="arbeta i en utcheckad offlinekopia (--url är då den centrala databasen för sync)",
    )
    run.set_defaults(func=cmd_gui)

    demo = sub.add_parser("demo", help="prova Fokus med påhittade ärenden i en separat demodatabas")
    demo.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="databasens schema")
    dbsub = db.add_subparsers(
        dest="db_command", metavar="ÅTGÄRD", required=True, parser_class=_Parser
    )
    up = dbsub.add_parser("upgrade", parents=[common], help="migrera databasen till senaste schema")
    up.set_defaults(func=cmd_db_upgrade)
    cur = dbsub.add_parser("current", parents=[common], help="visa databasens schemaversion")
    cur.set_defaults(func=cmd_db_current)
    grn = dbsub.add_parser(
        "grants", parents=[common], help="PostgreSQL: förnya roller, radsäkerhet och rättigheter"
    )
    grn.set_defaults(func=cmd_db_grants)
    bak = dbsub.add_parser(
        "backup",
        parents=[common],
        help="SQLite: säkerhetskopiera databasfilen till en ny FIL (går bra medan Fokus används)",
    )
    bak.add_argument(
        "file", metavar="FIL", type=Path, help="ny fil; en befintlig skrivs aldrig över"
    )
    bak.set_defaults(func=cmd_db_backup)

    user = sub.add_parser("user", help="användare")
    usub = user.add_subparsers(
        dest="user_command", metavar="ÅTGÄRD", required=True, parser_class=_Parser
    )
    add = usub.add_parser("add", parents=[common], help="lägg till en användare")
    add.add_argument("username", metavar="ANVÄNDARNAMN")
    add.add_argument("--name", required=True, help="fullständigt namn")
    add.add_argument("--role", required=True, help="handläggare, arbetsledare eller administratör")
    add.add_argument("--unit", required=True, help="enhet (skapas om den saknas)")
    add.add_argument("--focus", action="store_true", help="fokushandläggare")
    add.add_argument("--cap", type=_positive, help="ärendetak (standard 30 för fokus, annars 75)")
    add.set_defaults(func=cmd_user_add)
    for name, func, text in (
        ("unlock", cmd_user_unlock, "lås upp ett konto som låsts efter misslyckade inloggningar"),
        (
            "reset-password",
            cmd_user_reset_password,
            "ge ett konto ett nytt lösenord (läses dolt; häver också en låsning)",
        ),
        ("deactivate", cmd_user_deactivate, "inaktivera ett konto (historiken finns kvar)"),
        ("reactivate", cmd_user_reactivate, "aktivera ett inaktiverat konto igen"),
    ):
        act = usub.add_parser(name, parents=[common], help=text)
        act.add_argument("username", metavar="ANVÄNDARNAMN")
        act.set_defaults(func=func)

    case = sub.add_parser("case", help="ärenden")
    csub = case.add_subparsers(
        dest="case_command", metavar="ÅTGÄRD", required=True, parser_class=_Parser
    )
    lst = csub.add_parser(
        "list", parents=[common], help="lista ärenden: ärendenummer, sökande, status, handläggare"
    )
    lst.add_argument("--search", default="", help="namn, personnummer eller ärendenummer")
    lst.add_argument("--limit", type=_positive)
    lst.set_defaults(func=cmd_case_list)

    imp = sub.add_parser("import-cases", parents=[common], help="importera ärenden från CSV")
    imp.add_argument("file", metavar="FIL", type=Path)
    imp.add_argument("--months", type=Path, metavar="FIL", help="månader med utbetalt stöd")
    imp.add_argument("--dry-run", action="store_true", help="kontrollera bara, spara inget")
    imp.add_argument("--unit", help="enhet för ärenden utan handläggare (standard: den enda)")
    imp.set_defaults(func=cmd_import_cases)

    imm = sub.add_parser("import-months", parents=[common], help="importera fler månader")
    imm.add_argument("file", metavar="FIL", type=Path)
    imm.set_defaults(func=cmd_import_months)

    seed = sub.add_parser("seed-demo", parents=[common], help="skapa påhittade demoärenden")
    seed.add_argument("--cases", type=_positive, required=True)
    seed.add_argument("--seed", type=int, default=1)
    seed.add_argument("--as-of", type=_date, default=None, help="ÅÅÅÅ-MM-DD (standard i dag)")
    seed.set_defaults(func=cmd_seed_demo)

    st = sub.add_parser("stats", parents=[common], help="långvarighet, ärendemängd och utfall")
    st.add_argument("--year", type=int, help="kalenderår (standard: senaste hela året)")
    st.add_argument("--as-of", type=_date, default=None, help="ÅÅÅÅ-MM-DD (standard i dag)")
    st.add_argument("--json", action="store_true", help="skriv exakt ett JSON-objekt")
    st.set_defaults(func=cmd_stats)

    pdf = sub.add_parser(
        "export-pdf", parents=[common], help="skriv en ärendesammanfattning som PDF"
    )
    pdf.add_argument("case_number", metavar="ÄRENDENUMMER")
    pdf.add_argument("--out", required=True, type=Path, metavar="FIL")
    pdf.add_argument(
        "--mask-personnummer", action="store_true", help="visa personnummer som ÅÅÅÅMMDD-XXXX"
    )
    pdf.set_defaults(func=cmd_export_pdf)

    audit = sub.add_parser("audit", help="granskningsloggen: kontroll, kedjehuvud och export")
    asub = audit.add_subparsers(
        dest="audit_command", metavar="ÅTGÄRD", required=True, parser_class=_Parser
    )
    ver = asub.add_parser(
        "verify", parents=[common], help="kontrollera att ingen händelse ändrats eller tagits bort"
    )
    ver.add_argument(
        "--head", metavar="HASH", help="ett tidigare utskrivet kedjehuvud som ska finnas kvar"
    )
    ver.set_defaults(func=cmd_audit_verify)
    hd = asub.add_parser(
        "head", parents=[common], help="skriv loggens kedjehuvud (spara det utanför databasen)"
    )
    hd.set_defaults(func=cmd_audit_head)
    aex = asub.add_parser(
        "export", parents=[common], help="exportera en periods logg som CSV (logguppföljning)"
    )
    aex.add_argument("--from", dest="start", required=True, type=_date, metavar="ÅÅÅÅ-MM-DD")
    aex.add_argument("--to", dest="end", required=True, type=_date, metavar="ÅÅÅÅ-MM-DD")
    aex.add_argument("--out", required=True, type=Path, metavar="FIL")
    aex.set_defaults(func=cmd_audit_export)
    aem = asub.add_parser(
        "emergencies", parents=[common], help="lista nödåtkomster under en period (med skäl)"
    )
    aem.add_argument("--from", dest="start", required=True, type=_date, metavar="ÅÅÅÅ-MM-DD")
    aem.add_argument("--to", dest="end", required=True, type=_date, metavar="ÅÅÅÅ-MM-DD")
    aem.set_defaults(func=cmd_audit_emergencies)

    bench = sub.add_parser(
        "bench", help="mät Fokus mot målen på en egen, påhittad databas (se docs/bench.md)"
    )
    bench.add_argument(
        "--url",
        help="en tom SQLite-fil eller tom PostgreSQL-databas som bench får skapa och märka "
        "(standard: en ny temporär SQLite-fil); aldrig en databas med riktiga ärenden",
    )
    bench.add_argument("--cases", type=_positive, default=100_000, help="standard 100 000")
    bench.add_argument("--json", type=Path, metavar="FIL", help="skriv alla mått som JSON")
    bench.add_argument(
        "--runs", type=_positive, default=5, help="körningar per mått (medianen visas)"
    )
    bench.set_defaults(func=cmd_bench)

    off = sub.add_parser("offline", help="ta med ärenden offline på en bärbar dator")
    osub = off.add_subparsers(
        dest="offline_command", metavar="ÅTGÄRD", required=True, parser_class=_Parser
    )
    oco = osub.add_parser(
        "checkout", help="checka ut ärenden till en krypterad lokal fil (lösenordet läses dolt)"
    )
    oco.add_argument("--central", required=True, metavar="URL", help="den centrala databasen")
    oco.add_argument("--local", required=True, type=Path, metavar="FIL", help="ny lokal fil")
    oco.add_argument("--user", required=True, metavar="ANVÄNDARNAMN")
    oco.add_argument(
        "--cases", nargs="*", metavar="ÄRENDENUMMER", help="standard: dina öppna ärenden"
    )
    oco.add_argument("--days", type=_positive, default=None, help="giltighet i dagar (standard 14)")
    oco.set_defaults(func=cmd_offline_checkout)
    orv = osub.add_parser("revoke", help="återkalla en utcheckning (arbetsledare)")
    orv.add_argument("--central", required=True, metavar="URL")
    orv.add_argument("checkout", metavar="UTCHECKNING", help="id eller datorkod (t.ex. L3F9A)")
    orv.add_argument(
        "--user", metavar="ANVÄNDARNAMN", help="arbetsledaren (annars kommandoradens operatör)"
    )
    orv.set_defaults(func=cmd_offline_revoke)
    ols = osub.add_parser("list", help="lista aktiva utcheckningar")
    ols.add_argument("--central", required=True, metavar="URL")
    ols.add_argument(
        "--user",
        metavar="ANVÄNDARNAMN",
        help="logga in som (krävs när servern har en databasroll per användare)",
    )
    ols.set_defaults(func=cmd_offline_list)
    ost = osub.add_parser("status", help="visa den lokala kopians status och konflikter")
    ost.add_argument("--local", required=True, type=Path, metavar="FIL")
    ost.set_defaults(func=cmd_offline_status)
    ors = osub.add_parser("resolve", help="lös en konflikt: theirs (central) eller yours (din)")
    ors.add_argument("--local", required=True, type=Path, metavar="FIL")
    ors.add_argument("conflict", metavar="KONFLIKT", help="konfliktens id (från offline status)")
    ors.add_argument("choice", choices=["theirs", "yours"], metavar="VAL")
    ors.set_defaults(func=cmd_offline_resolve)

    syn = sub.add_parser(
        "sync", help="synkronisera en lokal offlinekopia med den centrala databasen"
    )
    syn.add_argument("--central", required=True, metavar="URL")
    syn.add_argument("--local", required=True, type=Path, metavar="FIL")
    syn.add_argument(
        "--new-password",
        action="store_true",
        help="lösenordet har bytts centralt: läs först det gamla (låser upp filen), sedan det "
        "nya; filen låses sedan med det nya",
    )
    syn.set_defaults(func=cmd_sync)
    return p


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from services.db import open_database, resolve_url

    return open_database(resolve_url(args.url).url)


def _actor():  # type: ignore[no-untyped-def]
    from services.audit import Actor

    return Actor.cli()


def cmd_gui(args: argparse.Namespace) -> int:
    if getattr(args, "offline", None) is not None:
        from ui.offline_app import run_offline_app

        return run_offline_app(local_path=args.offline, central_url=args.url)
    from ui.app import run_gui

    return run_gui(url=args.url)


def cmd_demo(args: argparse.Namespace) -> int:
    from ui.app import run_demo

    return run_demo()


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from services.db import create_db_engine, describe_url, migrate, resolve_url

    url = resolve_url(args.url).url
    engine = create_db_engine(url)
    try:
        before, after, backup = migrate(engine)
    finally:
        engine.dispose()
    where = describe_url(url)
    if before == after:
        print(f"databasen är redan på senaste schemaversion ({after}): {where}")
    else:
        print(f"databasen uppgraderad från {before or 'tom'} till {after}: {where}")
        if backup is not None:
            print(f"säkerhetskopia: {backup}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from services.db import create_db_engine, current_revision, head_revision, resolve_url

    engine = create_db_engine(resolve_url(args.url).url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    if current is None:
        print(f"ingen (tom databas); senaste är {head}")
    elif current == head:
        print(f"{current} (senaste)")
    else:
        print(f"{current} (senaste är {head}; kör: python main.py db upgrade)")
    return 0


def cmd_db_backup(args: argparse.Namespace) -> int:
    from services.backup import backup_database
    from services.db import resolve_url

    result = backup_database(resolve_url(args.url).url, args.file, _actor())
    print(result.summary())
    if result.audited is False:
        print(
            "fokus: varning: säkerhetskopian kunde inte loggas i granskningsloggen "
            "(databasen var låst för skrivning); kopian är hel",
            file=sys.stderr,
        )
    return 0


def _read_password(prompt: str = "Lösenord: ") -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        second = getpass.getpass("Upprepa lösenordet: ")
        if first != second:
            raise ValidationError.single("lösenord", "de två lösenorden skiljer sig åt")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_user_add(args: argparse.Namespace) -> int:
    from services.pg_roles import create_login_role
    from services.users import UserInput, create_user_in, role_from_label

    role = role_from_label(args.role)
    password = _read_password()
    db = _open(args)
    db_role = ""
    try:
        with db.begin() as s:
            user = create_user_in(
                s,
                _actor(),
                UserInput(
                    username=args.username,
                    full_name=args.name,
                    role=role,
                    unit_name=args.unit,
                    is_focus=args.focus,
                    caseload_cap=args.cap,
                    password=password,
                ),
            )
            # PostgreSQL: the user's own LOGIN role (SCRAM, their password), same transaction.
            db_role = create_login_role(s, _actor(), user, password)
    finally:
        db.dispose()
    created = f"; databasroll {db_role}" if db_role else ""
    print(f"användaren {args.username} är skapad{created}", file=sys.stderr)
    return 0


def _find_user(db, username: str):  # type: ignore[no-untyped-def]
    from services.user_admin import find_user_in

    with db.begin() as s:
        return find_user_in(s, _actor(), username)


def cmd_user_unlock(args: argparse.Namespace) -> int:
    from services.user_admin import unlock_in

    db = _open(args)
    try:
        row = _find_user(db, args.username)
        was_locked = row.is_locked()
        with db.action("användaren") as s:
            unlock_in(s, _actor(), row.id, row.version)
    finally:
        db.dispose()
    state = "är upplåst" if was_locked else "var inte låst (räknaren för felförsök nollställd)"
    print(f"användaren {row.username} {state}", file=sys.stderr)
    return 0


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    from models import User
    from services.user_admin import reset_password_in

    db = _open(args)
    try:
        row = _find_user(db, args.username)  # an unknown user is said before the password
        password = _read_password("Nytt lösenord: ")
        with db.action("användaren") as s:
            reset_password_in(s, _actor(), row.id, row.version, password)
            user = s.get(User, row.id)
            db_role = user.db_role if user is not None and not db.is_sqlite else None
    finally:
        db.dispose()
    follows = f"; databasrollen {db_role} har samma nya lösenord" if db_role else ""
    print(f"användaren {row.username} har fått ett nytt lösenord{follows}", file=sys.stderr)
    return 0


def _set_active(args: argparse.Namespace, active: bool) -> int:
    from services.user_admin import set_active_in

    db = _open(args)
    try:
        row = _find_user(db, args.username)
        if row.active != active:
            with db.action("användaren") as s:
                set_active_in(s, _actor(), row.id, row.version, active)
    finally:
        db.dispose()
    if row.active == active:
        state = "är redan aktiv" if active else "är redan inaktiverad"
    else:
        state = "är aktiv igen" if active else "är inaktiverad; historiken finns kvar"
    print(f"användaren {row.username} {state}", file=sys.stderr)
    return 0


def cmd_user_deactivate(args: argparse.Namespace) -> int:
    return _set_active(args, False)


def cmd_user_reactivate(args: argparse.Namespace) -> int:
    return _set_active(args, True)


def cmd_case_list(args: argparse.Namespace) -> int:
    from services.audit import record
    from services.search import RegisterFilter, iter_cases

    db = _open(args)
    count = 0
    try:
        with db.begin() as s:
            out = sys.stdout
            for row in iter_cases(s, RegisterFilter(text=args.search), limit=args.limit):
                out.write(
                    f"{row.case_number}\t{row.applicant_name}\t{row.status_label}\t"
                    f"{row.caseworker_username or ''}\n"
                )
                count += 1
            record(s, _actor(), "case_list", rows=count, searched=bool(args.search.strip()))
    finally:
        db.dispose()
    return 0


def cmd_import_cases(args: argparse.Namespace) -> int:
    from services.importer import import_cases

    db = _open(args)
    try:
        result = import_cases(
            db,
            _actor(),
            args.file,
            months_path=args.months,
            dry_run=args.dry_run,
            unit_name=args.unit,
        )
    finally:
        db.dispose()
    print(result.summary())
    return 0


def cmd_import_months(args: argparse.Namespace) -> int:
    from services.importer import import_months

    db = _open(args)
    try:
        result = import_months(db, _actor(), args.file)
    finally:
        db.dispose()
    print(result.summary())
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from services.demo import seed_demo

    db = _open(args)
    try:
        result = seed_demo(
            db,
            _actor(),
            cases=args.cases,
            seed=args.seed,
            as_of=args.as_of or date.today(),
            progress=lambda done, total: print(
                f"\r{done}/{total} ärenden", end="", file=sys.stderr, flush=True
            ),
        )
    finally:
        db.dispose()
    print(file=sys.stderr)
    print(result.summary())
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    import json

    from services.longterm import format_stats, stats
    from services.settings import load_settings

    if args.year is not None and not 1900 <= args.year <= 2100:
        raise ValidationError.single("--year", f"orimligt år {args.year}")
    db = _open(args)
    try:
        with db.begin() as s:
            figures = stats(s, year=args.year, as_of=args.as_of, settings=load_settings())
    finally:
        db.dispose()
    print(json.dumps(figures, ensure_ascii=False) if args.json else format_stats(figures))
    return 0


def cmd_export_pdf(args: argparse.Namespace) -> int:
    from services.summary import SummaryOptions, export_summary

    db = _open(args)
    try:
        result = export_summary(
            db,
            _actor(),
            args.case_number,
            args.out,
            SummaryOptions(mask_personnummer=args.mask_personnummer),
        )
    finally:
        db.dispose()
    print(f"{result.path} ({result.pages} sidor)")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from services.audit import AuditChainBrokenError, verify_chain

    db = _open(args)
    try:
        with db.begin() as s:
            result = verify_chain(s, expected_head=args.head)
    finally:
        db.dispose()
    if not result.ok:
        raise AuditChainBrokenError(result.message)
    print(f"{result.message}; kedjehuvud {result.head}")
    return 0


def cmd_audit_head(args: argparse.Namespace) -> int:
    from services.audit import head

    db = _open(args)
    try:
        with db.begin() as s:
            current = head(s)
    finally:
        db.dispose()
    print(current)
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    from services.audit import export_period_csv

    db = _open(args)
    try:
        with db.begin() as s:
            count = export_period_csv(s, _actor(), args.start, args.end, args.out)
    finally:
        db.dispose()
    print(f"{count} händelser skrivna till {args.out}")
    return 0


def cmd_audit_emergencies(args: argparse.Namespace) -> int:
    from services.access import emergency_log
    from services.audit import LOCAL_TZ

    db = _open(args)
    try:
        with db.begin() as s:
            rows = emergency_log(s, _actor(), args.start, args.end)
    finally:
        db.dispose()
    for r in rows:
        when = r.granted_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
        flag = " SKYDDAD" if r.protected else ""
        print(f"{when}\t{r.username}\t{r.case_number}{flag}\t{r.reason}")
    print(f"{len(rows)} nödåtkomster", file=sys.stderr)
    return 0


def cmd_db_grants(args: argparse.Namespace) -> int:
    from services.db import create_db_engine, describe_url, resolve_url
    from services.pg_roles import install_access_control

    url = resolve_url(args.url).url
    engine = create_db_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            print("SQLite har inga roller eller radsäkerhet; inget att göra", file=sys.stderr)
            return 0
        with engine.begin() as conn:
            report = install_access_control(conn)
    finally:
        engine.dispose()
    print(f"{len(report.policies)} policyer och rättigheter förnyade: {describe_url(url)}")
    if report.ungranted:
        print("utan rättigheter för användarroller: " + ", ".join(report.ungranted))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from services.bench import format_table, run_bench, write_json

    result = run_bench(
        args.url,
        cases=args.cases,
        runs=args.runs,
        progress=lambda line: print(f"bench: {line}", file=sys.stderr, flush=True),
    )
    print(format_table(result))
    if args.json is not None:
        write_json(result, args.json)
    return 0


def _read_login_password(prompt: str = "Lösenord: ") -> str:
    """The login password: without echo on a terminal, else one line from stdin."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\r\n")


def _stderr_progress(line: str) -> None:
    print(f"fokus: {line}", file=sys.stderr, flush=True)


def _central_as(url: str, username: str | None, *, what: str):  # type: ignore[no-untyped-def]
    """The central database for an offline command: as ``username``'s own role on a server
    with per-user roles (the password read here, checked by the server), else the URL's own
    user. Returns (database, actor or None)."""
    import socket

    from services.role_login import connect_central, is_per_user_url, login_central

    if not username:
        if is_per_user_url(url):
            raise ValidationError.single(
                "--user", f"servern har en databasroll per användare; ange --user för att {what}"
            )
        return open_database_for(url), None
    password = _read_login_password()
    central = connect_central(url, username, password)
    try:
        actor = login_central(central, username, password, socket.gethostname()).actor
    except BaseException:
        central.dispose()
        raise
    return central, actor


def open_database_for(url: str):  # type: ignore[no-untyped-def]
    from services.db import open_database

    return open_database(url, auto_migrate_sqlite=False)


def cmd_offline_checkout(args: argparse.Namespace) -> int:
    from services.offline import DEFAULT_CHECKOUT_DAYS, checkout
    from services.role_login import connect_central

    password = _read_login_password()
    # As the user's own role when the URL names no database user (or names that role).
    central = connect_central(args.central, args.user, password)
    try:
        result = checkout(
            central,
            args.local,
            args.user,
            password,
            args.cases,
            days=args.days if args.days is not None else DEFAULT_CHECKOUT_DAYS,
            progress=_stderr_progress,
        )
    finally:
        central.dispose()
    print(result.summary())
    return 0


def cmd_offline_revoke(args: argparse.Namespace) -> int:
    from services.offline import find_checkout, revoke_checkout

    central, actor = _central_as(args.central, args.user, what="återkalla")
    try:
        with central.begin() as s:
            row = revoke_checkout(s, actor or _actor(), find_checkout(s, args.checkout).id)
            code, who = row.laptop_code, row.username
    finally:
        central.dispose()
    print(
        f"utcheckningen L{code} ({who}) är återkallad; ärendena tas bort vid nästa synkronisering"
    )
    return 0


def cmd_offline_list(args: argparse.Namespace) -> int:
    from services.offline import list_checkouts

    central, _actor_ = _central_as(args.central, args.user, what="lista utcheckningar")
    try:
        with central.begin() as s:
            rows = list_checkouts(s)
    finally:
        central.dispose()
    for r in rows:
        state = "återkallad" if r.revoked_at else "aktiv"
        print(
            f"{r.id}\tL{r.laptop_code}\t{r.username}\t{r.cases} ärenden\t"
            f"till {r.expires_at:%Y-%m-%d %H:%M}\t{state}"
        )
    return 0


def cmd_offline_status(args: argparse.Namespace) -> int:
    from services.offline import local_status, open_local
    from services.sync import unresolved_conflicts

    local = open_local(args.local, _read_login_password())
    try:
        status = local_status(local)
        with local.begin() as s:
            conflicts = unresolved_conflicts(s)
    finally:
        local.dispose()
    print(
        f"{status.username} på L{status.laptop_code}: {status.cases} ärenden; {status.message}; "
        + ("osynkroniserade ändringar" if status.unsynced_changes else "allt synkroniserat")
    )
    for c in conflicts:
        print(f"{c.id}\t{c.describe()}")
    return 0


def cmd_offline_resolve(args: argparse.Namespace) -> int:
    import uuid

    from services.offline import open_local
    from services.sync import resolve_conflict

    try:
        conflict_id = uuid.UUID(args.conflict)
    except ValueError:
        raise ValidationError.single("konflikt", f"ogiltigt id {args.conflict!r}") from None
    local = open_local(args.local, _read_login_password())
    try:
        resolve_conflict(local, conflict_id, args.choice)
    finally:
        local.dispose()
    print("konflikten är löst; synkronisera för att skicka valet")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    import socket

    from services.errors import EXIT_INVALID
    from services.offline import open_local
    from services.sync import sync_as_user

    password = _read_login_password(
        "Lösenord för den lokala filen (det gamla): " if args.new_password else "Lösenord: "
    )
    new_password = _read_login_password("Nytt lösenord (centralt): ") if args.new_password else None
    local = open_local(args.local, password)
    try:
        # As the user's own role when the URL names no database user (or names that role).
        result = sync_as_user(
            args.central,
            local,
            password,
            new_password=new_password,
            workstation=socket.gethostname(),
            progress=_stderr_progress,
        )
    finally:
        local.dispose()
    print(result.summary())
    return EXIT_INVALID if result.conflicts else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        args.url = None
        args.func = cmd_gui
    try:
        return int(args.func(args))
    except RowErrors as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return exc.exit_code
    except FokusError as exc:
        print(f"fokus: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("fokus: avbrutet", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception:
        return _report_bug()


def _report_bug() -> int:
    """A bug, not an expected error: full details to the log file, a reference on screen."""
    import traceback
    import uuid

    from services.settings import data_dir

    ref = uuid.uuid4().hex[:8]
    log_dir = data_dir() / "logs"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / "fokus-errors.log").open("a", encoding="utf-8") as fh:
            fh.write(f"--- referens {ref}\n{traceback.format_exc()}\n")
        where = f", detaljer i {log_dir / 'fokus-errors.log'}"
    except OSError:
        where = ""
        traceback.print_exc()
    print(f"fokus: internt fel (referens {ref}){where}", file=sys.stderr)
    return 70


if __name__ == "__main__":
    sys.exit(main())
