"""`alko-desk invoice ...` and `alko-desk payment ...` as a script runs them."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from pypdf import PdfReader

from alko_desk.models.users import Role
from tests.invoice_data import NEW_CAR_VIN
from tests.test_cli import alko
from tests.vehicles_data import client_with_deal

DRAFT = {
    "customer": {
        "name": "Пётр Петров",
        "street": "Savska 5",
        "city": "Zagreb",
        "postcode": "10000",
        "country": "HR",
    },
    "lines": [
        {
            "description": "Škoda Octavia 2.0 TDI, new",
            "unit_price": "28000.00",
            "vat": "S",
            "rate": "25",
            "vin": NEW_CAR_VIN,
        }
    ],
    "supply_date": "2026-11-24",
    "deposits": [{"amount": "5000.00", "received_on": "2026-11-10", "reference": "DEP-1"}],
}


@pytest.fixture
def finance_env(context, make_user, mongo_uri, tmp_path):
    """The CLI on the test database, acting as a finance user (as tests/test_cli.py does)."""
    make_user("fiona", Role.FINANCE)
    env = {k: v for k, v in os.environ.items() if k not in ("ALKO_NEW_PASSWORD", "ALKO_FERRETDB")}
    env.update(
        ALKO_MONGODB_URI=mongo_uri,
        ALKO_DB_NAME=context.store.db.name,
        ALKO_DATA_DIR=str(tmp_path),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        ALKO_PASSWORD="fiona chooses a long passphrase 9",
    )
    return env


def test_finance_issues_pays_credits_and_exports_from_the_command_line(
    finance_env, tmp_path, store
):
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(DRAFT, ensure_ascii=False), encoding="utf-8")
    issued = alko("invoice", "issue", "--draft", str(draft), "--as", "fiona", env=finance_env)
    assert issued.returncode == 0, issued.stderr
    number = issued.stdout.strip()
    assert number.startswith("ALKO-") and number.endswith("-000001")

    paid = alko(
        "payment", "add", number, "--amount", "10000", "--method", "bank-transfer",
        "--as", "fiona", env=finance_env,
    )  # fmt: skip
    assert paid.returncode == 0, paid.stderr
    assert f"{number}/1" in paid.stdout and "20,000.00 EUR" in paid.stdout

    too_much = alko(
        "payment", "add", number, "--amount", "20000.01", "--method", "cash",
        "--as", "fiona", env=finance_env,
    )  # fmt: skip
    assert too_much.returncode == 1 and "overpayment" in too_much.stderr

    credit = alko(
        "invoice", "credit", number, "--amount", "1250", "--reason", "late delivery",
        "--as", "fiona", env=finance_env,
    )  # fmt: skip
    assert credit.returncode == 0, credit.stderr
    note = credit.stdout.strip()
    assert "-CN-" in note

    listed = alko("invoice", "list", "--json", "--as", "fiona", env=finance_env)
    assert listed.returncode == 0, listed.stderr
    rows = {r["number"]: r for r in json.loads(listed.stdout)}
    assert rows[number]["gross"] == "35000.00"
    assert rows[number]["paid"] == "10000.00"
    assert rows[number]["balance"] == "18750.00"
    assert rows[number]["status"] == "partly paid"
    assert rows[number]["customer"] == "Пётр Петров"
    assert rows[note]["corrects"] == number
    series = note.rpartition("-")[0]
    notes_only = alko(
        "invoice", "list", "--series", series, "--json", "--as", "fiona", env=finance_env
    )  # fmt: skip
    assert [r["number"] for r in json.loads(notes_only.stdout)] == [note]

    receipt = tmp_path / "receipt.pdf"
    written = alko(
        "payment", "receipt", f"{number}/1", "--out", str(receipt), "--as", "fiona",
        env=finance_env,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    text = PdfReader(str(receipt)).pages[0].extract_text()
    assert "Payment receipt" in text and "10,000.00 EUR" in text and "Пётр Петров" in text

    out = tmp_path / "invoice.pdf"
    exported = alko("invoice", "pdf", number, "--out", str(out), "--as", "fiona", env=finance_env)
    assert exported.returncode == 0, exported.stderr
    stored = store.collection("invoices").find_one({"_id": number})
    assert hashlib.sha256(out.read_bytes()).hexdigest() == stored["pdf_sha256"]

    pdfs = store.collection("invoice_pdfs")
    data = bytes(pdfs.find_one({"_id": number})["pdf"])
    pdfs.update_one({"_id": number}, {"$set": {"pdf": data + b"\n% appended"}})
    tampered = alko("invoice", "pdf", number, "--out", str(out), "--as", "fiona", env=finance_env)
    assert tampered.returncode == 3
    assert "altered" in tampered.stderr


def test_finance_invoices_a_deal_from_the_command_line(finance_env, context, make_user):
    sam, deal = client_with_deal(context, make_user)
    _, waiting = client_with_deal(
        context, sales=sam, n=2, percent="8", email="ana@example.hr",
        phone="091 765 4321", id_number="998877665", first="Ana", last="Šarić",
    )  # fmt: skip
    issued = alko("invoice", "issue", "--deal", deal.id, "--as", "fiona", env=finance_env)
    assert issued.returncode == 0, issued.stderr
    number = issued.stdout.strip()
    assert number.startswith("ALKO-") and number.endswith("-000001")
    invoiced = sam.deals.get(deal.id)
    assert (invoiced.state.value, invoiced.invoice_number) == ("invoiced", number)

    refused = alko("invoice", "issue", "--deal", waiting.id, "--as", "fiona", env=finance_env)
    assert refused.returncode == 1 and "approval" in refused.stderr
    unknown = alko("invoice", "issue", "--deal", "D-1", "--as", "fiona", env=finance_env)
    assert unknown.returncode == 1 and "There is no deal D-1" in unknown.stderr
    assert "Traceback" not in refused.stderr + unknown.stderr
