"""The vehicle inventory against the real database: add, edit, filters, import."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from alko_desk.models.audit import AuditFilter
from alko_desk.models.errors import ConcurrentModification, PermissionDenied, ValidationError
from alko_desk.models.listing import Progress
from alko_desk.models.money import Money
from alko_desk.models.users import Role
from alko_desk.models.vehicles import VehicleFilter, VehicleSort, VehicleStatus
from tests.vehicles_data import draft, vin_n


@pytest.fixture
def sales(context, make_user):
    return context.services_for(make_user("sam", Role.SALES)).vehicles


def test_adding_a_vehicle_fills_the_make_from_the_wmi_and_audits(context, sales):
    vehicle = sales.add(draft(1, make=""))
    assert vehicle.make == "Honda"
    assert vehicle.status is VehicleStatus.IN_STOCK
    assert sales.get(vehicle.id) == vehicle
    entries = context.audit_log.query(AuditFilter(action_prefix="vehicle."))
    assert [(e.action, e.target, e.actor) for e in entries] == [
        ("vehicle.added", f"vehicle:{vehicle.id}", "sam")
    ]


def test_the_same_vin_cannot_be_in_stock_twice(sales):
    sales.add(draft(1))
    with pytest.raises(ValidationError) as err:
        sales.add(draft(1, model="Civic"))
    assert "already in stock" in err.value.message
    assert "Honda Accord" in err.value.message


def test_bad_vin_is_refused_and_european_vin_is_accepted_with_a_warning(sales):
    with pytest.raises(ValidationError) as err:
        sales.add(draft(1, vin="1HGCM82613A00000X"))
    assert "vin" in err.value.field_errors
    lada = sales.add(draft(2, vin="XTAGFK330JY144213", make="Lada", model="Vesta"))
    assert "not a check digit" in lada.vin_warning


def test_finance_reads_but_cannot_add_vehicles(context, make_user, sales):
    sales.add(draft(1))
    finance = context.services_for(make_user("fin", Role.FINANCE)).vehicles
    assert finance.page().total == 1
    with pytest.raises(PermissionDenied):
        finance.add(draft(2))


def test_edit_refuses_a_stale_copy(sales):
    vehicle = sales.add(draft(1))
    edited = sales.edit(vehicle, replace(vehicle.draft, colour="Crvena"))
    assert sales.get(vehicle.id).draft.colour == "Crvena"
    with pytest.raises(ConcurrentModification):
        sales.edit(vehicle, replace(vehicle.draft, colour="Zelena"))
    sales.edit(edited, replace(edited.draft, colour="Zelena"))


def test_filters_and_sorts(sales, clock):
    sales.add(draft(1, price="18000", model_year=2020, make="Škoda", model="Octavia"))
    clock.advance(days=40)
    sales.add(draft(2, price="32000", model_year=2024, make="Škoda", model="Kodiaq"))
    sales.add(draft(3, price="25000", model_year=2023))
    assert sales.page(VehicleFilter(make="škoda")).total == 2
    assert [v.model for v in sales.page(VehicleFilter(make="Škoda", model="kodiaq")).rows] == [
        "Kodiaq"
    ]
    assert sales.page(VehicleFilter(year_from=2023)).total == 2
    priced = sales.page(VehicleFilter(price_min=Decimal(20000), price_max=Decimal(30000)))
    assert [v.list_price for v in priced.rows] == [Money.of("25000")]
    old = sales.page(VehicleFilter(min_days_in_stock=30))
    assert [v.model for v in old.rows] == ["Octavia"]
    by_price = sales.page(sort=VehicleSort.PRICE, descending=False)
    assert [v.list_price.amount for v in by_price.rows] == [18000, 25000, 32000]
    second_page = sales.page(sort=VehicleSort.PRICE, descending=True, start=1, count=1)
    assert second_page.total == 3 and second_page.rows[0].list_price.amount == 25000


CSV = """VIN;Make;Model;Year;Price;Cost;Condition;Mileage;Colour
{v1};Škoda;Octavia;2024;"27.990,00";24000;new;5;Siva
{v2};Škoda;Kodiaq;2023;;30000;used;15000;Crna
1HGCM82613A00000X;Honda;Civic;2022;19000;15000;used;40000;Bijela
{v1};Škoda;Octavia;2024;27990;24000;new;5;Siva
{v4};Lada;Веста;2018;9 500,00;7000;used;80000;Бели
{v5};Honda;Accord;2024;31000;26000;new;10;Plava
"""


def _csv(tmp_path, taken=None):
    path = tmp_path / "stock.csv"
    path.write_text(
        CSV.format(v1=vin_n(101), v2=vin_n(102), v4="XTAGFK330JY144213", v5=taken or vin_n(105)),
        encoding="utf-8",
    )
    return path


def test_import_preview_marks_each_bad_row_with_its_reason_and_imports_only_good_rows(
    sales, tmp_path
):
    sales.add(draft(105))
    preview = sales.preview_import(_csv(tmp_path))
    reasons = {row.line: row.problem for row in preview.rows}
    assert reasons[2] == ""
    assert reasons[3] == "Missing price."
    assert reasons[4].startswith("Bad VIN:")
    assert reasons[5] == "Duplicate: the same VIN as row 2."
    assert reasons[6] == ""  # a European VIN without check digit: a warning only
    assert "not a check digit" in preview.rows[4].warning
    assert reasons[7].startswith("Duplicate: already in stock")
    assert preview.rows[0].draft.list_price == Money.of("27990.00")
    assert preview.rows[4].draft.list_price == Money.of("9500.00")
    result = sales.import_rows(preview)
    assert (result.imported, result.skipped) == (2, 4)
    assert sales.page().total == 3
    assert {v.model for v in sales.page().rows} == {"Octavia", "Веста", "Accord"}


def test_import_reads_grouped_mileages_and_local_dates_and_names_a_bad_one(sales, tmp_path):
    rows = [
        ("12.345", "15.03.2021"),  # a Croatian export: twelve thousand km, not 12
        ("45 000", "15/03/2021"),
        ("45,000", "2021-03-15"),
        ("12345.0", ""),  # a spreadsheet's float
        ("12.5", ""),
        ("", "March 2021"),
    ]
    path = tmp_path / "stock.csv"
    path.write_text(
        "vin;make;model;price;mileage;first_registration\n"
        + "".join(
            f"{vin_n(300 + n)};Škoda;Fabia;9000;{km};{day}\n" for n, (km, day) in enumerate(rows)
        ),
        encoding="utf-8",
    )
    preview = sales.preview_import(path)
    good = [(r.draft.mileage_km, r.draft.first_registration) for r in preview.rows[:4]]
    assert [r.problem for r in preview.rows[:4]] == ["", "", "", ""]
    assert good == [
        (12345, date(2021, 3, 15)),
        (45000, date(2021, 3, 15)),
        (45000, date(2021, 3, 15)),
        (12345, None),
    ]
    assert "mileage “12.5” is not a whole number of km" in preview.rows[4].problem
    assert "first registration “March 2021” is not a date" in preview.rows[5].problem


def test_xlsx_import(sales, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["vin", "make", "model", "model_year", "list_price", "first_registration"])
    sheet.append([vin_n(201), "Peugeot", "308", 2021, 17500.5, "2021-03-04"])
    sheet.append([vin_n(202), "Peugeot", "2008", 2022, None, None])
    path = tmp_path / "stock.xlsx"
    book.save(path)
    preview = sales.preview_import(path)
    assert [r.problem for r in preview.rows] == ["", "Missing price."]
    assert preview.rows[0].draft.list_price == Money.of("17500.50")
    assert sales.import_rows(preview).imported == 1


def test_a_cancelled_import_leaves_nothing_behind(sales, tmp_path, monkeypatch):
    import alko_desk.services.vehicles as module

    monkeypatch.setattr(module, "IMPORT_BATCH", 1)
    preview = sales.preview_import(_csv(tmp_path))
    progress = Progress()
    original = progress.report

    def cancel_after_first(done, total=0, text=""):
        original(done, total, text)
        progress.cancel()

    progress.report = cancel_after_first
    result = sales.import_rows(preview, progress)
    assert result.cancelled and result.imported == 0
    assert sales.page().total == 0
    # the VINs are free again
    assert sales.import_rows(preview).imported == 3


def test_a_crashed_import_is_undone_at_the_next_start(context, sales, tmp_path):
    preview = sales.preview_import(_csv(tmp_path))
    written = sales.import_rows(preview)
    context.vehicles_repo.begin_import(
        "I-CRASH", list(written.vehicle_ids), "sam", context.clock.now()
    )
    assert sales.recover_imports() == 3
    assert sales.page().total == 0


def test_a_file_without_a_price_column_is_refused_with_its_columns(sales, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("vin,make\n1HGCM82633A004352,Honda\n", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        sales.preview_import(path)
    assert "no price column" in err.value.message


def test_a_write_claimed_by_a_crashed_desk_is_rolled_forward(context, sales, monkeypatch):
    import alko_desk.storage.revisions as revisions
    from alko_desk.storage.vehicles_repo import vehicle_to_doc

    vehicle = sales.add(draft(1))
    intended = vehicle_to_doc(replace(vehicle, draft=replace(vehicle.draft, colour="Crvena")))
    # the claim of revision 1 was written, the vehicle was not: the desk died in between
    context.store.db.vehicle_claims.insert_one(
        {"_id": f"{vehicle.id}:1", "doc": {**intended, "rev": 2}, "at": context.clock.now()}
    )
    assert not context.vehicles_repo.replace_if(vehicle, 1)  # revision 1 is taken
    monkeypatch.setattr(revisions, "ROLL_FORWARD_AFTER", timedelta(0))
    settled = context.vehicles_repo.get_for_write(vehicle.id)
    assert (settled.rev, settled.draft.colour) == (2, "Crvena")
    assert sales.get(vehicle.id).draft.colour == "Crvena"


def test_many_vins_are_checked_against_stock_in_one_read(context, sales):
    held = [sales.add(draft(n)) for n in range(3)]
    vins = [vin_n(n) for n in range(30)]
    found = context.vehicles_repo.holders_of_vins(vins)
    assert found == {v.vin: v.id for v in held}
    assert context.vehicles_repo.holders_of_vins(vins[:2]) == {v.vin: v.id for v in held[:2]}
