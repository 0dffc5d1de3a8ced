"""Test fixtures: one real FerretDB for the session (or ALKO_TEST_MONGODB_URI), a fresh database per test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from alko_desk.bootstrap import AppContext
from alko_desk.models.company import CompanyProfile
from alko_desk.models.users import Role
from alko_desk.security.passwords import HashCost
from alko_desk.services.clock import FixedClock
from alko_desk.storage.embedded import EmbeddedServer
from alko_desk.storage.mongo import Store, connect
from alko_desk.ui.qt_setup import prepare_qt

prepare_qt()  # as run_gui does, before the first paint

ADMIN_PASSWORD = "the blue lorry leaves at dawn 42"
STAFF_PASSWORD = "a fine temporary passphrase 7"


def staff_passphrase(username: str) -> str:
    """The password `make_user` gives an account in place of the temporary one."""
    return f"{username} chooses a long passphrase 9"


SAM_PASSWORD = staff_passphrase("sam")

COMPANY = CompanyProfile(
    name="ALKO Cars d.o.o.",
    address="Ilica 1, 10000 Zagreb, Croatia",
    vat_id="HR33392005961",
    bank_account="HR1210010051863000160",
    currency="EUR",
    vat_rate=Decimal(25),
    phone_region="HR",
)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory) -> str:
    external = os.environ.get("ALKO_TEST_MONGODB_URI")
    if external:
        yield external
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("ferretdb"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mongo_client(mongo_uri):
    client = connect(mongo_uri)
    yield client
    client.close()


@pytest.fixture
def store(mongo_client) -> Store:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield Store.open(mongo_client, name)
    mongo_client.drop_database(name)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))


@pytest.fixture
def password_cost() -> HashCost:
    """Argon2id at the smallest cost it accepts: the production cost (64 MiB, 3 passes) took
    about half the suite's time. test_auth checks that the app itself builds the production cost."""
    return HashCost(memory_kib=64, iterations=1, lanes=1)


@pytest.fixture
def context(store, clock, tmp_path, password_cost) -> AppContext:
    from alko_desk.storage.schema import ensure_schema

    ensure_schema(store)
    return AppContext(store, data_dir=Path(tmp_path), clock=clock, password_cost=password_cost)


@pytest.fixture
def admin_session(context):
    context.setup.initialize(COMPANY, "admin", "Ana Admin", ADMIN_PASSWORD)
    return context.auth.login("admin", ADMIN_PASSWORD)


@pytest.fixture
def make_user(context, admin_session):
    """Creates an account with a chosen role and returns a logged-in session for it."""

    def _make(username: str, role: Role, full_name: str = "Staff Member"):
        admin = context.services_for(admin_session)
        admin.users.create_user(username, full_name, role, STAFF_PASSWORD)
        session = context.auth.login(username, STAFF_PASSWORD)
        return context.auth.change_password(session, STAFF_PASSWORD, staff_passphrase(username))

    return _make


# ----------------------------------------------------------------------------- showroom server
# One TLS server for the session on loopback; each test plugs its own backend (its own
# fresh database, the test's clock) into it. `desk` runs a test over both transports.


class MemorySecrets:
    """A stand-in keyring for pins in tests that are not about the keyring itself."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str | None) -> bool:
        if value is None:
            self.values.pop(key, None)
        else:
            self.values[key] = value
        return True


class _SwitchableApp:
    app = None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def server_identity(tmp_path_factory):
    from alko_desk.remote.trust import init_identity

    return init_identity(tmp_path_factory.mktemp("server") / "identity", ["127.0.0.1"])


@pytest.fixture(scope="session")
def rpc_server(server_identity):
    import uvicorn

    from alko_desk.remote.server import RunningServer

    switch = _SwitchableApp()
    running = RunningServer.__new__(RunningServer)
    running.config = uvicorn.Config(
        switch,
        host="127.0.0.1",
        port=0,
        ssl_keyfile=str(server_identity.key_path),
        ssl_certfile=str(server_identity.cert_path),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    running.server = uvicorn.Server(running.config)
    running._thread = None
    running.start()
    running.switch = switch
    yield running
    running.stop()


@pytest.fixture
def remote_backend(rpc_server, server_identity, context, tmp_path):
    """The server side of one test: a ServerContext on the test's database and clock."""
    from alko_desk.remote.server import Backend, ServerContext, build_app

    server_context = ServerContext(
        context.store,
        data_dir=Path(tmp_path) / "server-data",
        clock=context.clock,
        password_cost=context.hasher.cost,  # the test's cheap Argon2id, as on the desk side
    )
    backend = Backend(server_context, server_identity)
    rpc_server.switch.app = build_app(backend)
    yield backend
    backend.close()


@pytest.fixture
def server_address(rpc_server) -> str:
    return f"127.0.0.1:{rpc_server.port}"


@pytest.fixture
def connect_remote(remote_backend, server_address, server_identity):
    from alko_desk.remote.desk import RemoteDesk
    from alko_desk.remote.trust import PinStore

    opened = []

    def _connect(**kwargs):
        kwargs.setdefault("pins", PinStore(MemorySecrets()))
        if not {"fingerprint", "enrolment_code", "confirm"} & kwargs.keys():
            kwargs["fingerprint"] = server_identity.fingerprint()
        desk = RemoteDesk(kwargs.pop("address", server_address), **kwargs)
        opened.append(desk)
        return desk

    yield _connect
    for desk in opened:
        desk.close()


@pytest.fixture
def remote(connect_remote, context):
    """The organisation set up, and one desk connected to the showroom server."""
    context.setup.initialize(COMPANY, "admin", "Ana Admin", ADMIN_PASSWORD)
    return connect_remote()


@pytest.fixture
def admin(remote):
    """The admin logged in on the `remote` desk."""
    return remote.login("admin", ADMIN_PASSWORD)


@pytest.fixture
def sam(remote, admin):
    """Sam (sales), made by the admin, logged in on the `remote` desk with SAM_PASSWORD."""
    admin.users.create_user("sam", "Sam Sales", Role.SALES, STAFF_PASSWORD)
    return remote.login("sam", STAFF_PASSWORD).change_password(STAFF_PASSWORD, SAM_PASSWORD)


@pytest.fixture(params=["in-process", "remote"])
def desk(request, context):
    """The one client interface, over each transport: LocalDesk or RemoteDesk."""
    if request.param == "in-process":
        from alko_desk.remote.desk import LocalDesk

        return LocalDesk(context)
    return request.getfixturevalue("connect_remote")()


@pytest.fixture
def desk_admin(desk, context):
    """The organisation set up, and the admin logged in through `desk`."""
    context.setup.initialize(COMPANY, "admin", "Ana Admin", ADMIN_PASSWORD)
    return desk.login("admin", ADMIN_PASSWORD)


@pytest.fixture
def desk_user(desk, desk_admin):
    """Creates an account through the desk and returns its logged-in services."""

    def _make(username: str, role: Role, full_name: str = "Staff Member"):
        desk_admin.users.create_user(username, full_name, role, STAFF_PASSWORD)
        services = desk.login(username, STAFF_PASSWORD)
        return services.change_password(STAFF_PASSWORD, staff_passphrase(username))

    return _make
