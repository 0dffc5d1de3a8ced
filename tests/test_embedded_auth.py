"""The embedded FerretDB runs with its authentication on: what that protects, and what not."""

import json
import os
import stat

import psutil
import pymongo
import pytest
from pymongo.errors import OperationFailure

from alko_desk.storage.embedded import EmbeddedServer, public_uri


@pytest.fixture
def server(tmp_path):
    srv = EmbeddedServer(tmp_path / "db")
    srv.start()
    yield srv
    srv.stop()


def _client(uri: str) -> pymongo.MongoClient:
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)


def test_without_the_login_nothing_can_be_read_or_written(server):
    with _client(server.uri) as desk:
        desk.alko_desk.users.insert_one({"_id": "ana", "role": "admin"})
    anonymous = f"mongodb://127.0.0.1:{server.port}/?directConnection=true"
    with _client(anonymous) as other:
        for attempt in (
            lambda: other.alko_desk.users.find_one({"_id": "ana"}),
            lambda: other.alko_desk.users.update_one({"_id": "ana"}, {"$set": {"role": "x"}}),
            lambda: other.list_database_names(),
        ):
            with pytest.raises(OperationFailure) as refused:
                attempt()
            assert refused.value.code == 13  # Unauthorized
    guessed = server.uri.replace(server.credentials()["password"], "a-guessed-password")
    with _client(guessed) as wrong, pytest.raises(OperationFailure) as failed:
        wrong.alko_desk.users.find_one({"_id": "ana"})
    assert failed.value.code == 18  # AuthenticationFailed
    with _client(server.uri) as desk:
        assert desk.alko_desk.users.find_one({"_id": "ana"})["role"] == "admin"


def test_the_login_is_private_to_this_os_user(server):
    login = json.loads(server.credentials_file.read_text())
    assert stat.S_IMODE(server.credentials_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    process = psutil.Process(server.process.pid)
    assert login["password"] not in " ".join(process.cmdline())  # every user can read that
    assert process.environ()["FERRETDB_SETUP_PASSWORD"] == login["password"]
    assert login["password"] not in public_uri(server.uri)
    assert public_uri(server.uri).startswith(f"mongodb://127.0.0.1:{server.port}/?")


def test_a_folder_whose_login_was_lost_gets_a_new_one_and_keeps_its_data(tmp_path):
    srv = EmbeddedServer(tmp_path / "db")
    srv.start()
    with _client(srv.uri) as desk:
        desk.alko_desk.clients.insert_one({"_id": "c1"})
    first = srv.credentials()
    srv.stop()
    os.unlink(srv.credentials_file)  # also what a folder from before authentication looks like
    again = EmbeddedServer(tmp_path / "db")
    try:
        again.start()
        assert again.credentials()["database"] != first["database"]
        with _client(again.uri) as desk:
            assert desk.alko_desk.clients.find_one({"_id": "c1"}) == {"_id": "c1"}
    finally:
        again.stop()


def test_ferretdb_has_no_roles_so_the_login_may_do_everything(server):
    """Why the README says the login protects against other OS users, not against code
    running as this one: any login may drop a database or create another login."""
    with _client(server.uri) as desk:
        desk.scratch.things.insert_one({"_id": 1})
        desk.drop_database("scratch")
        assert "scratch" not in desk.list_database_names()
        login_db = server.credentials()["database"]
        desk[login_db].command("createUser", "intruder", pwd="chosen by the intruder", roles=[])
        assert "intruder" in str(desk[login_db].command("usersInfo"))
