"""`alko-desk vehicle import|list`, `deal list` and `demo seed --vehicles --deals` as scripts run them."""

from __future__ import annotations

import json

import pytest

from alko_desk.models.users import Role
from tests.test_cli import alko, cli_env  # noqa: F401 - the fixture is used by name
from tests.vehicles_data import vin_n


@pytest.fixture
def sam_env(cli_env, make_user):  # noqa: F811
    make_user("sam", Role.SALES)
    return {**cli_env, "ALKO_PASSWORD": "sam chooses a long passphrase 9"}


def test_vehicle_import_dry_run_then_import_then_list(sam_env, tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text(
        "vin,make,model,year,price\n"
        f"{vin_n(1)},Škoda,Octavia,2024,27990\n"
        f"{vin_n(2)},Škoda,Kodiaq,2024,\n"
        "XTAGFK330JY144213,Lada,Vesta,2018,9500\n",
        encoding="utf-8",
    )
    dry = alko("vehicle", "import", str(path), "--dry-run", "--as", "sam", env=sam_env)
    assert dry.returncode == 0, dry.stderr
    assert "row 3: Missing price." in dry.stderr
    assert "warning: row 4:" in dry.stderr
    assert "2 rows would be imported, 1 skipped" in dry.stdout
    listed = alko("vehicle", "list", "--json", "--as", "sam", env=sam_env)
    assert json.loads(listed.stdout) == []
    done = alko("vehicle", "import", str(path), "--as", "sam", env=sam_env)
    assert done.returncode == 0, done.stderr
    assert "Imported 2 vehicles; skipped 1 rows." in done.stdout
    rows = json.loads(alko("vehicle", "list", "--json", "--as", "sam", env=sam_env).stdout)
    assert sorted(r["model"] for r in rows) == ["Octavia", "Vesta"]
    assert {r["status"] for r in rows} == {"in_stock"}
    text = alko("vehicle", "list", "--status", "reserved", "--as", "sam", env=sam_env)
    assert "0 vehicles" in text.stdout


def test_demo_seed_vehicles_and_deals_then_deal_list(sam_env):
    seeded = alko(
        "demo",
        "seed",
        "--clients",
        "5",
        "--vehicles",
        "30",
        "--deals",
        "5",
        "--as",
        "sam",
        env=sam_env,
        timeout=180,
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "Added 30 demo vehicles." in seeded.stdout
    deals = json.loads(alko("deal", "list", "--json", "--as", "sam", env=sam_env).stdout)
    assert len(deals) == 5
    assert all(d["state"] == "reserved" for d in deals)
    assert all(len(d["vehicle_vin"]) == 17 for d in deals)
    reserved = json.loads(
        alko("vehicle", "list", "--status", "reserved", "--json", "--as", "sam", env=sam_env).stdout
    )
    assert {r["vin"] for r in reserved} == {d["vehicle_vin"] for d in deals}
    table = alko("deal", "list", "--state", "reserved", "--as", "sam", env=sam_env)
    assert table.returncode == 0 and "5 deals" in table.stdout


def test_finance_cannot_import_vehicles(cli_env, make_user, tmp_path):  # noqa: F811
    make_user("fin", Role.FINANCE)
    env = {**cli_env, "ALKO_PASSWORD": "fin chooses a long passphrase 9"}
    path = tmp_path / "s.csv"
    path.write_text(f"vin,price\n{vin_n(1)},1000\n", encoding="utf-8")
    done = alko("vehicle", "import", str(path), "--as", "fin", env=env)
    assert done.returncode == 1
    assert "may not import vehicles" in done.stderr
