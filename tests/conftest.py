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

ADMIN_PASSWORD = "the blue lorry leaves at dawn 42"
STAFF_PASSWORD = "a fine temporary passphrase 7"
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
        new_password = f"{username} chooses a long passphrase 9"
        return context.auth.change_password(session, STAFF_PASSWORD, new_password)

    return _make
