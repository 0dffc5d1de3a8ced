"""`alko-desk server`: run the showroom server, create its keys, enrol desks.

alko-desk server init [--dir DIR] [--host NAME]...   keys, certificate, enrolment code
alko-desk server [start] [--listen ADDR] [--port N]  serve (Ctrl-C stops)
alko-desk server enrol                               a new one-time enrolment code
alko-desk server fingerprint                         the certificate's SHA-256
alko-desk server trust ADDRESS (--fingerprint FP | --code CODE)   on a desk: pin a server
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alko_desk.cli import EXIT_OK, _command, _print_rows
from alko_desk.models.errors import AlkoError, SetupRequired

SERVER_DIR_ENV = "ALKO_SERVER_DIR"


def add_server_commands(subparsers) -> None:
    folder = argparse.ArgumentParser(add_help=False)
    folder.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="the server's private folder (default: 'server' in the data folder, "
        f"or {SERVER_DIR_ENV})",
    )
    parent = subparsers.add_parser(
        "server",
        help="The showroom server: one per showroom; desks connect to it over TLS.",
        description="The showroom server. Without a command it starts serving.",
        parents=[folder],
    )
    _serve_options(parent)
    parent.set_defaults(handler=server_start, parser=parent)
    server = parent.add_subparsers(title="commands", metavar="COMMAND")
    init = _command(
        server,
        "init",
        server_init,
        "Create the server's TLS key and certificate and its Ed25519 signing key (readable "
        "only by this OS user); print the certificate fingerprint and an enrolment code.",
        parents=[folder],
    )
    init.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name or IP address desks use to reach this server (repeatable)",
    )
    start = _command(server, "start", server_start, "Serve desks (Ctrl-C stops).", [folder])
    _serve_options(start)
    _command(
        server,
        "enrol",
        server_enrol,
        "Print a new one-time enrolment code (valid 24 hours) for the next desk.",
        [folder],
    )
    _command(
        server, "fingerprint", server_fingerprint, "Print the certificate fingerprint.", [folder]
    )
    trust = _command(
        server,
        "trust",
        server_trust,
        "On a desk: check a server's certificate against the fingerprint (or enrolment "
        "code) its admin gave you, and pin it in this computer's keyring.",
    )
    trust.add_argument("address", help="host:port of the server")
    how = trust.add_mutually_exclusive_group(required=True)
    how.add_argument("--fingerprint", help="the SHA-256 fingerprint `server init` printed")
    how.add_argument("--code", help="a one-time enrolment code from `server enrol`")


def _serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen",
        default="0.0.0.0",
        metavar="ADDR",
        help="the address to listen on (default: every interface)",
    )
    parser.add_argument("--port", type=int, default=None, help="TCP port (default 7443)")
    parser.add_argument(
        "--allow-unauthenticated-database",
        action="store_true",
        help="serve even when the database has no login (only for a database on this computer)",
    )


def _identity(args: argparse.Namespace):
    import os

    from alko_desk.paths import data_dir
    from alko_desk.remote.trust import ServerIdentity

    folder = args.dir or Path(os.environ.get(SERVER_DIR_ENV) or data_dir() / "server")
    return ServerIdentity(folder.expanduser())


def server_init(args: argparse.Namespace) -> int:
    from alko_desk.remote.trust import init_identity

    identity = init_identity(_identity(args).folder, args.host)
    code = identity.new_enrolment_code()
    print(f"The server's keys are in {identity.folder} (readable only by this user).")
    print("Certificate fingerprint (SHA-256) — desks compare it when they first connect:")
    print(f"  {identity.fingerprint()}")
    print(f"One-time enrolment code (24 hours), instead of comparing: {code}")
    print("Start the server with: alko-desk server")
    return EXIT_OK


def server_enrol(args: argparse.Namespace) -> int:
    identity = _existing(args)
    print(f"One-time enrolment code (24 hours): {identity.new_enrolment_code()}")
    return EXIT_OK


def server_fingerprint(args: argparse.Namespace) -> int:
    print(_existing(args).fingerprint())
    return EXIT_OK


def _existing(args: argparse.Namespace):
    identity = _identity(args)
    if not identity.exists():
        raise AlkoError(
            f"This server has no keys in {identity.folder} yet.",
            hint="Create them with: alko-desk server init --host NAME",
        )
    identity.check_private()
    return identity


def server_start(args: argparse.Namespace) -> int:
    import uvicorn

    from alko_desk.paths import data_dir
    from alko_desk.remote.server import Backend, build_app, open_server_context, uvicorn_config
    from alko_desk.remote.trust import DEFAULT_PORT

    identity = _existing(args)
    context = open_server_context(data_dir())
    try:
        _check_database_account(context, args.allow_unauthenticated_database)
        if not context.setup.is_set_up():
            raise SetupRequired(
                "ALKO Desk has not been set up on the server's database yet.",
                hint="Run `alko-desk` once on this computer with the same database: its setup "
                "wizard creates the organisation and the first admin.",
            )
        port = args.port or DEFAULT_PORT
        _print_rows(
            [
                ("ALKO Desk server", f"https://{args.listen}:{port}"),
                ("Database", context.database_label),
                ("Fingerprint", identity.fingerprint()),
                ("Keys", str(identity.folder)),
            ]
        )
        print("Press Ctrl-C to stop.", flush=True)
        from alko_desk.remote.checkpoints import enable_checkpoints

        checkpointer = enable_checkpoints(context, identity)
        backend = Backend(context, identity)
        server = uvicorn.Server(
            uvicorn_config(
                build_app(backend),
                identity,
                args.listen,
                port,
                lifespan="on",
                timeout_keep_alive=30,
            )
        )
        try:
            server.run()
        except KeyboardInterrupt:
            pass  # uvicorn re-raises the Ctrl-C it handled by shutting down cleanly
        finally:
            checkpointer.stop()
    finally:
        context.close()
    print("The ALKO Desk server has stopped.", flush=True)
    return EXIT_OK


def _check_database_account(context, allow_unauthenticated: bool) -> None:
    from alko_desk.storage.privileges import database_privileges

    report = database_privileges(context.store)
    if report.dangerous:
        raise AlkoError(
            "The server's database account may do more than ALKO Desk needs: "
            + ", ".join(report.dangerous)
            + ".",
            hint="Create an account with only find, insert, update and remove on the ALKO Desk "
            "database (see the README, 'Showroom server') and put it in ALKO_MONGODB_URI.",
        )
    if report.unrestricted and not (allow_unauthenticated or context.server is not None):
        raise AlkoError(
            "The server's database login may do everything, including drop the database and "
            "create logins: FerretDB 1.x checks passwords but has no roles.",
            hint="Use a MongoDB account with a limited role (see the README), or pass "
            "--allow-unauthenticated-database for a database only this computer can reach.",
        )
    if not report.users and not (allow_unauthenticated or context.server is not None):
        raise AlkoError(
            "The server's database has no login: anyone who reaches it can read and change "
            "everything, whatever this server enforces.",
            hint="Use a MongoDB account for the server (see the README), or pass "
            "--allow-unauthenticated-database for a database only this computer can reach.",
        )


def server_trust(args: argparse.Namespace) -> int:
    from alko_desk.remote.desk import RemoteDesk
    from alko_desk.remote.trust import PinStore
    from alko_desk.secrets import SecretStore

    desk = RemoteDesk(
        args.address,
        pins=PinStore(SecretStore()),
        fingerprint=args.fingerprint,
        enrolment_code=args.code,
    )
    desk.close()
    print(f"This desk now trusts the ALKO Desk server at {desk.address}.")
    print(f"Certificate fingerprint: {desk.fingerprint}")
    return EXIT_OK


def with_checkpoints(context, report):
    """The audit chain report held against the server's signed checkpoints, when this computer
    is the server (its keys are here); the report unchanged otherwise."""
    import os

    from alko_desk.paths import data_dir
    from alko_desk.remote.checkpoints import verify_with_server_keys
    from alko_desk.remote.trust import ServerIdentity

    folder = Path(os.environ.get(SERVER_DIR_ENV) or data_dir() / "server")
    identity = ServerIdentity(folder.expanduser())
    if not identity.exists():
        return report
    return verify_with_server_keys(context, identity, report)
