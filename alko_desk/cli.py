"""The `alko-desk` command line, on the same services as the GUI.

`alko-desk` alone opens the window. Everything else is a command group:

    alko-desk db start|status
    alko-desk user add|list|reset|unlock --as ADMIN
    alko-desk audit verify

Adding a group: write `add_<group>_commands(subparsers)` that builds its parsers
and sets `handler=<function(args) -> int>` through `set_defaults`, then append it
to COMMAND_GROUPS. Handlers raise AlkoError for anything a user should read; main()
prints its text and returns a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from alko_desk import APP_NAME, __version__
from alko_desk.models.errors import AlkoError, SetupRequired, ValidationError
from alko_desk.models.listing import Progress

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUDIT_BROKEN = 3
EXIT_CHECK_FAILED = 3  # a check refused its input (vin check), as audit verify does
EXIT_INTERRUPTED = 130

PASSWORD_ENV = "ALKO_PASSWORD"
NEW_PASSWORD_ENV = "ALKO_NEW_PASSWORD"

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if not args_list:
        return run_gui_command()
    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("ALKO_DEBUG") else logging.ERROR,
        format="alko-desk: %(levelname)s %(name)s: %(message)s",
    )
    from alko_desk.logsafe import redact_handlers

    redact_handlers()  # no personal values in what reaches the terminal either
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        args.parser.print_help(sys.stderr)
        return EXIT_USAGE
    return _run(handler, args)


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from alko_desk.storage.embedded import EmbeddedServerError

    try:
        return handler(args)
    except AlkoError as exc:
        _error(_error_text(exc))
    except EmbeddedServerError as exc:
        _error(str(exc))
    except KeyboardInterrupt:
        _error("Interrupted.")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place that turns the unexpected into a message
        where = _log_unexpected(exc)
        _error(
            f"Something unexpected went wrong. The details are in {where}."
            if where
            else "Something unexpected went wrong:\n" + traceback.format_exc(limit=0).strip()
        )
    return EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alko-desk",
        description=f"{APP_NAME}: the showroom desktop application of ALKO Cars. "
        "Without a command it opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.set_defaults(parser=parser)
    groups = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add_commands in COMMAND_GROUPS:
        add_commands(groups)
    return parser


def _group(subparsers, name: str, help_text: str) -> argparse._SubParsersAction:
    """A command group (`db`, `user`, ...) whose bare name prints its own help."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(parser=parser)
    return parser.add_subparsers(title="commands", metavar="COMMAND")


def _command(
    group,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    help_text: str,
    parents: list[argparse.ArgumentParser] | None = None,
) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help_text, description=help_text, parents=parents or [])
    parser.set_defaults(handler=handler, parser=parser)
    return parser


# ----------------------------------------------------------------------------- the window


def run_gui_command() -> int:
    try:
        from alko_desk.ui.app import run_gui
    except ModuleNotFoundError as exc:
        if exc.name not in ("alko_desk.ui", "alko_desk.ui.app"):
            raise
        _error(
            "The ALKO Desk window is not part of this installation. "
            "The command line works: see `alko-desk --help`."
        )
        return EXIT_ERROR
    return run_gui([sys.argv[0] if sys.argv and sys.argv[0] else "alko-desk"])


# ----------------------------------------------------------------------------- db


def add_db_commands(subparsers) -> None:
    db = _group(
        subparsers, "db", "The database: run the embedded server, or see which one is used."
    )
    start = _command(
        db,
        "start",
        db_start,
        "Run the embedded database (FerretDB) in the foreground, for several desks on "
        "this computer or for inspection. Ctrl-C stops it.",
    )
    start.add_argument(
        "--port", type=int, default=0, help="loopback port to listen on (default: a free one)"
    )
    _command(
        db, "status", db_status, "Say which database the app would use and whether it answers."
    )


def db_start(args: argparse.Namespace) -> int:
    from alko_desk.paths import data_dir, database_dir
    from alko_desk.storage.embedded import EmbeddedServer, public_uri

    folder = database_dir(data_dir())
    server = EmbeddedServer(folder, port=args.port)
    already = server.running_uri()
    if already:
        raise AlkoError(
            f"The embedded database of {folder} is already running at {public_uri(already)}.",
            hint="Desks on this computer use it as it is. Stop that process to run it here.",
        )
    uri = server.start()
    print(f"{APP_NAME} embedded database (FerretDB {_ferretdb_version()}) is running.")
    print(f"URI: {public_uri(uri)}")
    print(f"Data: {folder}")
    print(
        "Desks on this computer with the same data folder use it; tools can connect to the URI "
        f"with the login in {server.credentials_file}. Press Ctrl-C to stop.",
        flush=True,
    )
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.is_set() and server.process.poll() is None:
            stop.wait(0.2)
        code = server.process.poll()
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop.is_set():
        print("The embedded database has stopped.", flush=True)
        return EXIT_OK
    raise AlkoError(
        f"The embedded database stopped by itself (exit code {code}).",
        hint=f"Its log is {folder / 'ferretdb.log'}.",
    )


def db_status(args: argparse.Namespace) -> int:
    from alko_desk.bootstrap import choose_database, describe_uri
    from alko_desk.paths import data_dir, database_dir
    from alko_desk.secrets import SecretStore
    from alko_desk.storage.embedded import (
        EmbeddedServer,
        find_ferretdb,
        public_uri,
        search_locations,
    )

    secrets = SecretStore()
    choice = choose_database(secrets)
    base = data_dir()
    db_name = _db_name()
    rows: list[tuple[str, str]] = []
    usable = True
    if choice.embedded:
        what = (
            f"embedded FerretDB {_ferretdb_version()} on this computer "
            "(no ALKO_MONGODB_URI, no address saved in the keyring)"
        )
        rows.append(("Database", what))
        binary = find_ferretdb()
        if binary:
            rows.append(("Server program", str(binary)))
        else:
            usable = False
            looked = ", ".join(search_locations())
            missing = (
                f"NOT FOUND; looked in {looked}. "
                "Run `make run` to build it, or set ALKO_MONGODB_URI."
            )
            rows.append(("Server program", missing))
        rows.append(("Data folder", str(database_dir(base))))
        running = EmbeddedServer(database_dir(base)).running_uri()
        if running:
            reachable, detail = _probe(running, db_name)
            usable = usable and reachable
            rows.append(("Server", f"running at {public_uri(running)}; {detail}"))
        else:
            rows.append(("Server", "not running (the app starts it when it opens)"))
    else:
        origin = "ALKO_MONGODB_URI" if choice.source == "environment" else "the keyring (Settings)"
        rows.append(("Database", f"{describe_uri(choice.uri)} from {origin}"))
        reachable, detail = _probe(choice.uri, db_name)
        usable = reachable
        rows.append(("Reachable", detail))
        rows.append(
            (
                "TLS",
                "on"
                if _uses_tls(choice.uri)
                else "off (recommended for a server on another computer: add tls=true)",
            )
        )
    rows.append(("Database name", db_name))
    rows.append(
        ("Keyring", secrets.backend_name if secrets.available else f"none. {secrets.warning}")
    )
    rows.append(("Desk data folder", str(base)))
    _print_rows(rows)
    return EXIT_OK if usable else EXIT_ERROR


def _probe(uri: str, db_name: str) -> tuple[bool, str]:
    from alko_desk.storage.mongo import Store, connect

    client = connect(uri, timeout_ms=2500)
    try:
        store = Store.open(client, db_name)
        return True, f"yes, {store.info.label} answers"
    except AlkoError as exc:
        return False, f"NO. {exc.message}"
    finally:
        client.close()


def _uses_tls(uri: str) -> bool:
    lowered = uri.lower()
    return lowered.startswith("mongodb+srv://") or "tls=true" in lowered or "ssl=true" in lowered


def _ferretdb_version() -> str:
    from alko_desk.storage.embedded import FERRETDB_VERSION

    return FERRETDB_VERSION.lstrip("v")


def _db_name() -> str:
    from alko_desk.bootstrap import DEFAULT_DB_NAME

    return os.environ.get("ALKO_DB_NAME", DEFAULT_DB_NAME)


# ----------------------------------------------------------------------------- user


def add_user_commands(subparsers) -> None:
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument(
        "--as",
        dest="acting",
        metavar="ADMIN",
        required=True,
        help=f"the admin doing this; the password is asked for, or read from {PASSWORD_ENV}",
    )
    user = _group(subparsers, "user", "Staff accounts (an admin authenticates with --as).")
    add = _command(
        user,
        "add",
        user_add,
        f"Create an account with a temporary password (asked for, or {NEW_PASSWORD_ENV}); "
        "its owner chooses their own at first login.",
        [acting],
    )
    add.add_argument("username")
    add.add_argument("--name", required=True, help="the person's full name")
    add.add_argument("--role", required=True, choices=_role_names())
    _command(user, "list", user_list, "List the staff accounts.", [acting])
    reset = _command(
        user,
        "reset",
        user_reset,
        f"Give an account a new temporary password (asked for, or {NEW_PASSWORD_ENV}).",
        [acting],
    )
    reset.add_argument("username")
    unlock = _command(
        user, "unlock", user_unlock, "Lift the lock after repeated failed logins.", [acting]
    )
    unlock.add_argument("username")


def _role_names() -> list[str]:
    from alko_desk.models.users import Role

    return [role.value for role in Role]


def user_add(args: argparse.Namespace) -> int:
    from alko_desk.models.users import Role

    password = read_secret(
        NEW_PASSWORD_ENV, f"Temporary password for {args.username}: ", confirm=True
    )
    with acting_services(args) as services:
        user = services.users.create_user(args.username, args.name, Role(args.role), password)
    print(
        f"Created the {user.role.label.lower()} account “{user.username}” ({user.full_name}). "
        "They choose their own password at first login."
    )
    return EXIT_OK


def user_list(args: argparse.Namespace) -> int:
    with acting_services(args) as services:
        users = services.users.list_users()
    rows = [("USERNAME", "NAME", "ROLE", "STATUS", "LAST LOGIN")]
    for user in users:
        status = ["active" if user.active else "disabled"]
        if user.must_change_password:
            status.append("must choose a password")
        if user.locked_until:
            status.append(f"locked until {user.locked_until.astimezone():%Y-%m-%d %H:%M}")
        last = (
            f"{user.last_login_at.astimezone():%Y-%m-%d %H:%M}" if user.last_login_at else "never"
        )
        rows.append((user.username, user.full_name, user.role.value, ", ".join(status), last))
    _print_table(rows)
    return EXIT_OK


def user_reset(args: argparse.Namespace) -> int:
    password = read_secret(
        NEW_PASSWORD_ENV, f"New temporary password for {args.username}: ", confirm=True
    )
    with acting_services(args) as services:
        services.users.reset_password(args.username, password)
    print(
        f"The password of “{args.username}” was reset. They choose their own at their next login."
    )
    return EXIT_OK


def user_unlock(args: argparse.Namespace) -> int:
    with acting_services(args) as services:
        services.users.unlock(args.username)
    print(f"“{args.username}” can log in again.")
    return EXIT_OK


@contextlib.contextmanager
def acting_services(args: argparse.Namespace) -> Iterator:
    """The services of the `--as` account, logged in for this one command and logged out after."""
    password = read_secret(PASSWORD_ENV, f"Password for {args.acting}: ")
    with app_context() as ctx:
        if not ctx.setup.is_set_up():
            raise SetupRequired(
                "ALKO Desk has not been set up on this database yet.",
                hint="Open the app once (`alko-desk`): its setup wizard creates the first admin.",
            )
        session = ctx.auth.login(args.acting, password)
        try:
            yield ctx.services_for(session)
        finally:
            ctx.auth.logout(session)


# ----------------------------------------------------------------------------- audit


def add_audit_commands(subparsers) -> None:
    audit = _group(subparsers, "audit", "The hash-chained audit log.")
    _command(
        audit,
        "verify",
        audit_verify,
        "Check every link of the audit chain and the head this desk anchored; "
        f"exit code {EXIT_AUDIT_BROKEN} names the first bad entry.",
    )


def audit_verify(args: argparse.Namespace) -> int:
    from alko_desk.remote.cli import with_checkpoints

    with app_context() as ctx:
        report = with_checkpoints(ctx, ctx.audit_log.verify())
    if report.ok:
        print(
            f"The audit log is intact: {report.checked} entries checked, the newest is entry "
            f"{report.head_seq}."
        )
        return EXIT_OK
    _error(
        f"The audit log is broken. First bad entry: {report.first_bad_seq} ({report.problem}). "
        f"{report.checked} entries before it are intact."
    )
    return EXIT_AUDIT_BROKEN


# ----------------------------------------------------------------------------- shared helpers

# ----------------------------------------------------------------------------- demo data


def add_demo_commands(subparsers) -> None:
    demo = _group(
        subparsers, "demo", "Fill the database with realistic fake data for demos and benchmarks."
    )
    seed = _command(
        demo,
        "seed",
        demo_seed,
        "Register fake clients (names with diacritics and Cyrillic) through the same services "
        f"as the window; --as names a sales account (password asked for, or {PASSWORD_ENV}).",
    )
    for name, what in (
        ("--clients", "how many clients to add"),
        ("--vehicles", "how many vehicles to add to stock"),
        ("--deals", "how many deals to make on stock"),
    ):
        seed.add_argument(
            name, type=_positive_int, default=0, metavar="N", help=f"{what} (1 or more)"
        )
    seed.add_argument(
        "--as",
        dest="acting",
        metavar="USER",
        required=True,
        help="a staff account allowed to register clients (sales)",
    )
    seed.add_argument("--seed", type=int, default=7, help="random seed, for repeatable data")


class _PrintedProgress(Progress):
    def report(self, done: int, total: int = 0, text: str = "") -> None:
        super().report(done, total, text)
        print(f"  {done:,} of {total:,} clients", flush=True)


def demo_seed(args: argparse.Namespace) -> int:
    import time

    from alko_desk.services.demo import DemoSeeder

    if not (args.clients or args.vehicles or args.deals):
        _error("Give at least one of --clients N, --vehicles N, --deals N.")
        return EXIT_USAGE
    if not args.clients:
        return demo_seed_stock(args)
    started = time.perf_counter()
    with acting_services(args) as services:
        seeder = DemoSeeder(services.clients, seed=args.seed)
        start = services.clients.count()
        done = seeder.seed(args.clients, start=start, progress=_PrintedProgress())
    print(f"Added {done:,} demo clients in {time.perf_counter() - started:.0f} s.")
    return demo_seed_stock(args) if args.vehicles or args.deals else EXIT_OK


def demo_seed_stock(args: argparse.Namespace) -> int:
    import time

    from alko_desk.services.vehicle_demo import StockSeeder

    started = time.perf_counter()
    with acting_services(args) as services:
        seeder = StockSeeder(services.vehicles, services.deals, seed=args.seed)
        if args.vehicles:
            added = seeder.seed_vehicles(args.vehicles, start=services.vehicles.count())
            print(f"Added {added:,} demo vehicles.", flush=True)
        if args.deals:
            clients = [row.id for row in services.clients.page(0, 2000)]
            made = seeder.seed_deals(
                args.deals,
                clients,
                progress=lambda n, total: (
                    print(f"  {n:,} of {total:,} deals", flush=True) if n % 100 == 0 else None
                ),
            )
            print(f"Made {made:,} demo deals.")
    print(f"Done in {time.perf_counter() - started:.0f} s.")
    return EXIT_OK


# ----------------------------------------------------------------------------- vin


def add_vin_commands(subparsers) -> None:
    vin = _group(subparsers, "vin", "Vehicle Identification Numbers.")
    check = _command(
        vin,
        "check",
        vin_check,
        "Check a VIN: exit 0 when valid, 0 with a `warning:` line when accepted with a "
        f"warning, {EXIT_CHECK_FAILED} with the reason when refused. Needs no login.",
    )
    check.add_argument("vin")
    check.add_argument("--json", action="store_true", help="print the decoded fields as JSON")


def vin_check(args: argparse.Namespace) -> int:
    import json

    from alko_desk.services.vin import VinVerdict, check_vin

    report = check_vin(args.vin)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    elif report.accepted:
        rows = [("VIN", report.vin), ("WMI", report.wmi)]
        rows.append(("Manufacturer", report.manufacturer or "not in the WMI table"))
        rows.append(("Region", ", ".join(p for p in (report.region, report.country) if p) or "?"))
        years = ", ".join(str(y) for y in report.model_years) or "no model-year code"
        rows.append(("Model year", years if report.model_year_by_law else f"{years} (if used)"))
        rows.append(("Check digit", report.check_digit.value.replace("_", " ")))
        _print_rows(rows)
    if report.verdict is VinVerdict.WARNING:
        print(f"warning: {report.reason}", file=sys.stderr, flush=True)
    if report.verdict is VinVerdict.REFUSED:
        _error(f"{report.vin or args.vin!r} is not a valid VIN. {report.reason}")
        return EXIT_CHECK_FAILED
    return EXIT_OK


# ----------------------------------------------------------------------------- vehicle, deal


def _acting_parent(help_text: str) -> argparse.ArgumentParser:
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument(
        "--as",
        dest="acting",
        metavar="USER",
        required=True,
        help=f"{help_text}; the password is asked for, or read from {PASSWORD_ENV}",
    )
    return acting


def add_vehicle_commands(subparsers) -> None:
    vehicle = _group(subparsers, "vehicle", "Vehicles in stock.")
    imp = _command(
        vehicle,
        "import",
        vehicle_import,
        "Import a supplier's stock list (CSV or XLSX): rows with a bad VIN, a duplicate or no "
        "price are listed with the reason and skipped.",
        [_acting_parent("a sales account")],
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="check the file, import nothing")
    lst = _command(
        vehicle,
        "list",
        vehicle_list,
        "List vehicles, newest first.",
        [_acting_parent("a staff account that may see vehicles")],
    )
    lst.add_argument("--status", choices=[s.value for s in _vehicle_statuses()])
    lst.add_argument("--json", action="store_true", help="one JSON array of vehicles")


def _vehicle_statuses():
    from alko_desk.models.vehicles import VehicleStatus

    return list(VehicleStatus)


def vehicle_import(args: argparse.Namespace) -> int:
    from alko_desk.models.listing import Progress

    if not args.file.is_file():
        raise ValidationError(f"There is no file {args.file}.")
    with acting_services(args) as services:
        preview = services.vehicles.preview_import(args.file)
        for row in preview.bad:
            print(f"row {row.line}: {row.problem}", file=sys.stderr)
        for row in preview.good:
            if row.warning:
                print(f"warning: row {row.line}: {row.warning}", file=sys.stderr)
        good, bad = len(preview.good), len(preview.bad)
        if args.dry_run:
            print(f"{good:,} rows would be imported, {bad:,} skipped. Nothing was imported.")
            return EXIT_OK
        progress = Progress()
        try:
            result = services.vehicles.import_rows(preview, progress)
        except KeyboardInterrupt:
            progress.cancel()
            raise
    print(f"Imported {result.imported:,} vehicles; skipped {result.skipped:,} rows.")
    return EXIT_OK


def vehicle_list(args: argparse.Namespace) -> int:
    import json

    from alko_desk.models.vehicles import VehicleFilter, VehicleStatus

    flt = VehicleFilter(status=VehicleStatus(args.status) if args.status else None)
    with acting_services(args) as services:
        page = services.vehicles.page(flt, count=10**7)
        now = services.vehicles.now()
    if args.json:
        rows = [
            {
                "id": v.id,
                "vin": v.vin,
                "make": v.make,
                "model": v.model,
                "trim": v.draft.trim,
                "model_year": v.model_year,
                "condition": v.draft.condition.value,
                "mileage_km": v.draft.mileage_km,
                "list_price": str(v.list_price.amount),
                "currency": v.list_price.currency,
                "status": v.status.value,
                "reserved_by": v.reserved_by or None,
                "days_in_stock": v.days_in_stock(now),
                "location": v.draft.location,
            }
            for v in page.rows
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    table = [("VIN", "VEHICLE", "PRICE", "STATUS", "DAYS")]
    for v in page.rows:
        table.append((v.vin, v.title, str(v.list_price), v.status.label, str(v.days_in_stock(now))))
    _print_table(table)
    print(f"{page.total:,} vehicles")
    return EXIT_OK


def add_deal_commands(subparsers) -> None:
    deal = _group(subparsers, "deal", "Deals.")
    lst = _command(
        deal,
        "list",
        deal_list,
        "List deals, newest first: id, client, VIN, state and totals.",
        [_acting_parent("a staff account that may see deals")],
    )
    lst.add_argument("--state", choices=[s.value for s in _deal_states()])
    lst.add_argument("--json", action="store_true", help="one JSON array of deals")


def _deal_states():
    from alko_desk.models.deals import DealState

    return list(DealState)


def deal_list(args: argparse.Namespace) -> int:
    import json

    from alko_desk.models.deals import DealFilter, DealState

    flt = DealFilter(state=DealState(args.state) if args.state else None)
    with acting_services(args) as services:
        page = services.deals.page(flt, count=10**7)
    if args.json:
        rows = [
            {
                "id": d.id,
                "client_id": d.client_id,
                "vehicle_id": d.vehicle_id,
                "vehicle_vin": d.vehicle_vin,
                "vehicle": d.vehicle_title,
                "state": d.state.value,
                "approval": d.approval.status.value,
                "salesperson": d.salesperson,
                "currency": d.terms.currency,
                "total_price": str(d.figures.total_price.amount),
                "balance_due": str(d.figures.balance_due.amount),
                "vat_scheme": d.figures.scheme.value,
                "created_at": d.created_at.isoformat(),
                **_business_buyer_json(d.terms.business_buyer),
            }
            for d in page.rows
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    table = [("DEAL", "CLIENT", "VIN", "STATE", "TOTAL", "BALANCE DUE")]
    for d in page.rows:
        state = d.state.value + (" (approval pending)" if d.needs_approval else "")
        table.append(
            (
                d.id,
                d.client_id,
                d.vehicle_vin,
                state,
                str(d.figures.total_price),
                str(d.figures.balance_due),
            )
        )
    _print_table(table)
    print(f"{page.total:,} deals")
    return EXIT_OK


def add_server_commands(subparsers) -> None:
    from alko_desk.remote.cli import add_server_commands as add

    add(subparsers)


def add_document_commands(subparsers) -> None:
    from alko_desk.cli_documents import add_commands

    add_commands(subparsers)


from alko_desk.cli_invoices import add_invoice_commands, add_payment_commands  # noqa: E402

COMMAND_GROUPS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_db_commands,
    add_user_commands,
    add_audit_commands,
    add_demo_commands,
    add_server_commands,
    add_vin_commands,
    add_vehicle_commands,
    add_deal_commands,
    add_document_commands,
    add_invoice_commands,
    add_payment_commands,
]


@contextlib.contextmanager
def app_context() -> Iterator:
    """The same AppContext the window uses: the configured database or the embedded one."""
    from alko_desk.bootstrap import open_context
    from alko_desk.paths import data_dir

    ctx = open_context(data_dir())
    try:
        yield ctx
    finally:
        ctx.close()


def read_secret(env_name: str, prompt: str, *, confirm: bool = False) -> str:
    """A password from the environment, or typed at a terminal (never echoed, never an argument)."""
    value = os.environ.get(env_name)
    if value:
        return value
    if not (sys.stdin and sys.stdin.isatty()):
        raise AlkoError(
            "A password is needed and there is no terminal to ask for it.",
            hint=f"Run the command in a terminal, or set {env_name}.",
        )
    value = getpass.getpass(prompt)
    if confirm and getpass.getpass("Type it again: ") != value:
        raise AlkoError("The two passwords differ; nothing was changed.")
    return value


def _positive_int(text: str) -> int:
    """An argparse type: a usage mistake (exit 2) rather than an error of the command (exit 1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}” is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _field_name(field: str) -> str:
    return field.replace("_", " ")


def _error_text(exc: AlkoError) -> str:
    """In a terminal nothing is highlighted: the fields are named, one per line."""
    text = exc.user_text()
    if isinstance(exc, ValidationError) and exc.field_errors:
        if "highlighted" in text:
            names = ", ".join(_field_name(f) for f in exc.field_errors)
            text = text.replace(
                "Please correct the highlighted fields.", f"Please correct: {names}."
            )
        text += "".join(
            f"\n  {_field_name(field)}: {message}" for field, message in exc.field_errors.items()
        )
    return text


def _error(text: str) -> None:
    print(f"alko-desk: {text}", file=sys.stderr, flush=True)


def _log_unexpected(exc: BaseException) -> Path | None:
    """Writes the traceback to the desk's log file; returns where, or None if that failed too."""
    try:
        from alko_desk.logsafe import private_file_handler
        from alko_desk.paths import data_dir

        path = data_dir() / "logs" / "cli.log"
        handler = private_file_handler(path, "%(asctime)s %(levelname)s %(message)s")
        log.addHandler(handler)
        try:
            log.error(
                "unexpected error in %s",
                " ".join(sys.argv),
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        finally:
            log.removeHandler(handler)
            handler.close()
        return path
    except Exception:  # noqa: BLE001 - nowhere to log: the caller prints the short form
        return None


def _print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows) + 1
    for label, value in rows:
        print(f"{label + ':':<{width}} {value}")


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _business_buyer_json(buyer) -> dict:
    """A deal's business buyer for `deal list --json`; nothing for a private buyer."""
    if buyer is None:
        return {}
    return {"business_buyer": {"company": buyer.company, "vat_id": buyer.vat_id}}
