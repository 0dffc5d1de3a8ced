"""`alko-desk document add` and `document list` on the same database and data folder as the tests."""

from __future__ import annotations

from alko_desk.models.users import Role
from alko_desk.services.clients import new_client_id
from tests.clients_data import draft
from tests.test_cli import alko, cli_env  # noqa: F401 - cli_env is a fixture
from tests.test_documents import BACK, FRONT, SIGNATURES


def test_sales_add_a_two_page_passport_and_list_it_and_finance_may_not(
    cli_env,  # noqa: F811
    context,
    make_user,
    tmp_path,
):
    sam = make_user("sam", Role.SALES)
    make_user("fin", Role.FINANCE)
    client_id = context.services_for(sam).clients.register(new_client_id(), draft()).id
    (tmp_path / "front.png").write_bytes(FRONT)
    (tmp_path / "back.jpg").write_bytes(BACK)
    as_sam = {**cli_env, "ALKO_PASSWORD": "sam chooses a long passphrase 9"}
    done = alko(
        "document", "add", client_id, str(tmp_path / "front.png"), str(tmp_path / "back.jpg"),
        "--type", "passport", "--country", "hrv", "--number", "123456789",
        "--expiry", "2031-06-30", "--as", "sam", env=as_sam,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Stored document" in done.stdout and "2 page(s)" in done.stdout
    stored = list((tmp_path / "documents").rglob("*.bin"))
    assert len(stored) == 2
    for path in stored:
        assert not any(sig in path.read_bytes() for sig in SIGNATURES)

    listed = alko("document", "list", client_id, "--as", "sam", env=as_sam)
    assert listed.returncode == 0, listed.stderr
    row = listed.stdout.splitlines()[1]
    assert "Passport" in row and "HRV" in row and "123456789" in row and "2031-06-30" in row
    assert "stored" in row

    synced = alko("document", "sync", "--as", "sam", env=as_sam)
    assert synced.returncode == 0, synced.stderr
    assert "0 still waiting" in synced.stdout and "Removed 0" in synced.stdout

    as_fin = {**cli_env, "ALKO_PASSWORD": "fin chooses a long passphrase 9"}
    refused = alko("document", "list", client_id, "--as", "fin", env=as_fin)
    assert refused.returncode == 1
    assert "may not see clients' ID documents" in refused.stderr
    # Finance may upload what waits, but not remove anything from the store.
    fin_sync = alko("document", "sync", "--as", "fin", env=as_fin)
    assert fin_sync.returncode == 1 and "0 still waiting" in fin_sync.stdout
    assert "(Finance) may not remove orphaned document uploads" in fin_sync.stderr


def test_an_unknown_document_type_is_a_sentence_not_a_traceback(cli_env, tmp_path):  # noqa: F811
    (tmp_path / "front.png").write_bytes(FRONT)
    done = alko(
        "document", "add", "abc", str(tmp_path / "front.png"), "--type", "visa", "--as", "sam",
        env={**cli_env, "ALKO_PASSWORD": "x"},
    )  # fmt: skip
    assert done.returncode == 1
    assert "Unknown document type 'visa'" in done.stderr and "Traceback" not in done.stderr
