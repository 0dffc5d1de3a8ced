from dataclasses import replace
from datetime import timedelta

import pytest

from alko_desk.models.audit import AuditFilter
from alko_desk.models.clients import ClientSort, DuplicateClient, UnreadableClient
from alko_desk.models.errors import ConcurrentModification, PermissionDenied, ValidationError
from alko_desk.models.users import Role
from alko_desk.security.crypto import FieldCipher, UnreadableRecord
from alko_desk.services.clients import new_client_id
from alko_desk.storage.intents_repo import IntentRecord
from tests.clients_data import IVAN, draft


@pytest.fixture
def sales(context, make_user):
    return context.services_for(make_user("sam", Role.SALES)).clients


@pytest.fixture
def audit(context, admin_session):
    return lambda prefix: context.services_for(admin_session).audit.entries(
        AuditFilter(action_prefix=prefix)
    )


def test_registered_client_reads_back_with_diacritics_and_cyrillic(sales):
    a = sales.register(new_client_id(), draft())
    b = sales.register(new_client_id(), draft(**IVAN))
    got = sales.get(a.id)
    assert got.draft.first_name == "Željko" and got.draft.address.city == "Split"
    assert got.draft.phone == "+385912345678"
    assert got.draft.id_number.endswith("445") and "•" in got.draft.id_number
    assert sales.get(b.id).draft.last_name == "Петров"


def test_saving_the_same_form_twice_creates_one_client(sales):
    cid = new_client_id()
    first = sales.register(cid, draft())
    second = sales.register(cid, draft())
    assert first.id == second.id
    assert sales.count() == 1


def test_invalid_fields_are_refused_with_a_message_per_field(sales):
    with pytest.raises(ValidationError) as err:
        sales.register(new_client_id(), draft(email="not-an-email", phone="12", id_number="x"))
    assert set(err.value.field_errors) >= {"email", "phone", "id_number"}


def test_the_same_form_saved_twice_is_one_client_and_the_second_answer_is_audited_as_a_view(
    sales, audit
):
    """register() with an id already stored returns that client (the form saved twice); it
    handed out the client's details with no audit entry (issue 8, low finding)."""
    client_id = new_client_id()
    first = sales.register(client_id, draft())
    again = sales.register(client_id, draft("Someone", "Else", email="else@example.hr"))
    assert again.id == first.id and again.draft.email == first.draft.email
    assert again.masked and again.draft.id_number != draft().id_number
    assert sales.count() == 1
    assert len(audit("client.registered")) == 1
    [viewed] = audit("client.viewed")
    assert (viewed.actor, viewed.target) == ("sam", f"client:{client_id}")


def test_same_email_is_offered_as_a_duplicate_but_may_be_registered_anyway(sales):
    first = sales.register(new_client_id(), draft())
    with pytest.raises(DuplicateClient) as dup:
        sales.register(
            new_client_id(), draft("Marija", "Kovačević", id_number="998877665", phone="")
        )
    assert not dup.value.blocking and dup.value.matches[0].client_id == first.id
    assert dup.value.matches[0].matched_on == ("email",)
    sales.register(
        new_client_id(),
        draft("Marija", "Kovačević", id_number="998877665", phone=""),
        allow_shared_contact=True,
    )
    assert sales.count() == 2


def test_same_id_number_under_another_name_is_refused_and_flagged_for_a_manager(sales, audit):
    first = sales.register(new_client_id(), draft())
    with pytest.raises(DuplicateClient) as dup:
        sales.register(
            new_client_id(),
            draft("Petar", "Horvat", email="p@example.hr", phone="092 111 2222"),
            allow_shared_contact=True,
        )
    assert dup.value.blocking
    flagged = audit("fraud.")
    assert flagged and flagged[0].target == f"client:{first.id}" and flagged[0].actor == "sam"


def test_reveal_is_audited_and_refused_to_finance(context, sales, make_user, audit):
    c = sales.register(new_client_id(), draft())
    assert sales.reveal(c.id) == {"id_number": "112233445", "licence_number": "HR778899"}
    revealed = audit("client.revealed")
    assert revealed[0].details["fields"] == ["id_number", "licence_number"]
    finance = context.services_for(make_user("fin", Role.FINANCE)).clients
    assert "•" in finance.get(c.id).draft.id_number
    with pytest.raises(PermissionDenied):
        finance.reveal(c.id)
    with pytest.raises(PermissionDenied):
        finance.register(new_client_id(), draft(email="x@example.hr"))


def test_opening_a_client_is_audited_by_id_not_by_personal_data(sales, audit):
    c = sales.register(new_client_id(), draft())
    sales.get(c.id)
    viewed = audit("client.viewed")
    assert viewed[0].target == f"client:{c.id}"
    assert "Željko" not in str(viewed[0].details)


def test_raw_dump_of_the_database_holds_no_plaintext_personal_data(context, sales):
    sales.register(new_client_id(), draft())
    sales.register(new_client_id(), draft(**IVAN))
    dump = []
    for name in context.store.db.list_collection_names():
        dump.extend(repr(d) for d in context.store.db[name].find({}))
    text = "\n".join(dump)
    for secret in [
        "zeljko.kovacevic@example.hr",
        "+385912345678",
        "912345678",
        "112233445",
        "HR778899",
        "1984-03-09",
        "Domovinskog",
        "Split",
        "ivan.petrov@example.ru",
        "4509123456",
        "77AB123456",
        "Beograd",
        "family estate",
    ]:
        assert secret not in text, secret
    assert "Željko" in text  # the name kept for search is the one field in clear


def test_fields_cannot_be_read_with_another_clients_key_or_after_the_key_is_destroyed(
    context, sales
):
    a = sales.register(new_client_id(), draft())
    b = sales.register(new_client_id(), draft(**IVAN))
    org = sales._org
    key_b = org.unwrap_client_key(b.id, context.client_keys_repo.get(b.id))
    doc_a = context.clients_repo.get(a.id)
    with pytest.raises(UnreadableRecord):
        FieldCipher(a.id, key_b).decrypt("email", doc_a.sealed["email"])
    context.client_keys_repo.destroy(a.id)
    gone = sales.get(a.id)
    assert isinstance(gone, UnreadableClient) and "key" in gone.reason


def test_tampered_ciphertext_is_refused_as_tampering(context, sales):
    from alko_desk.models.errors import TamperedRecord

    a = sales.register(new_client_id(), draft())
    record = context.clients_repo.get(a.id)
    blob = bytearray(record.sealed["email"])
    blob[-1] ^= 1
    tampered = replace(record, sealed={**record.sealed, "email": bytes(blob)})
    assert context.clients_repo.update_if_version(tampered, record.version)
    with pytest.raises(TamperedRecord, match="changed outside ALKO Desk"):
        sales.get(a.id)


def test_second_desk_saving_a_stale_copy_is_refused_and_told_what_changed(
    context, sales, make_user
):
    c = sales.register(new_client_id(), draft())
    desk1 = sales.get(c.id)
    other = context.services_for(make_user("sue", Role.SALES)).clients
    desk2 = other.get(c.id)
    from dataclasses import replace

    sales.update(desk1, replace(desk1.draft, email="new@example.hr"))
    with pytest.raises(ConcurrentModification) as conflict:
        other.update(desk2, replace(desk2.draft, notes="Wants red."))
    assert conflict.value.changed_fields == ["Email"]
    assert conflict.value.current.draft.email == "new@example.hr"
    assert other.get(c.id).draft.notes == "Interested in a family estate car."


def test_edit_updates_lookups_list_and_audit_without_values(sales, audit):
    from dataclasses import replace

    c = sales.register(new_client_id(), draft())
    updated = sales.update(c, replace(c.draft, last_name="Horvat", email="z.horvat@example.hr"))
    assert updated.version == 2 and updated.draft.id_number == c.draft.id_number
    assert [r.id for r in sales.search("horv")] == [c.id]
    assert sales.search("kovace") == []
    assert [r.id for r in sales.search("z.horvat@example.hr")] == [c.id]
    assert sales.search("zeljko.kovacevic@example.hr") == []
    entry = audit("client.updated")[0]
    assert entry.details["fields"] == ["last_name", "email"]
    assert "z.horvat" not in str(entry.details)
    assert sales.reveal(c.id)["id_number"] == "112233445"  # masked value was not saved over it


def test_name_search_is_prefix_case_and_accent_insensitive(sales):
    z = sales.register(new_client_id(), draft())
    i = sales.register(new_client_id(), draft(**IVAN))
    sales.register(
        new_client_id(),
        draft("Ana", "Zelić", email="ana@example.hr", phone="098 765 4321", id_number="556677889"),
    )
    assert [r.id for r in sales.search("zelj")] == [z.id]
    assert [r.id for r in sales.search("ŽELJKO kov")] == [z.id]
    assert {r.display_name for r in sales.search("z")} == {"Željko Kovačević", "Ana Zelić"}
    assert [r.id for r in sales.search("пет")] == [i.id]
    assert sales.search("nobody") == []


def test_exact_search_by_email_phone_and_id_number(sales):
    z = sales.register(new_client_id(), draft())
    assert [r.id for r in sales.search("ZELJKO.KOVACEVIC@example.hr ")] == [z.id]
    assert [r.id for r in sales.search("+385 91 234 5678")] == [z.id]
    assert [r.id for r in sales.search("112 233 445".replace(" ", ""))] == [z.id]
    row = sales.search("091 234 5678")[0]
    assert row.phone_masked.endswith("78") and "•" in row.phone_masked and row.city == "Split"


def test_list_pages_in_name_order_both_ways(sales):
    names = [
        ("Ana", "Babić"),
        ("Ivo", "Zorić"),
        ("Eva", "Čolić"),
        ("Iva", "Adamić"),
        ("Ema", "Đurić"),
    ]
    for n, (first, last) in enumerate(names):
        sales.register(
            new_client_id(),
            draft(first, last, email=f"c{n}@example.hr", phone="", id_number=f"12345{n}789"),
        )
    assert sales.count() == 5
    got = [r.display_name for r in sales.page(0, 10)]
    assert got == ["Iva Adamić", "Ana Babić", "Eva Čolić", "Ema Đurić", "Ivo Zorić"]
    assert [r.display_name for r in sales.page(1, 2)] == ["Ana Babić", "Eva Čolić"]
    assert [r.display_name for r in sales.page(0, 2, descending=True)] == ["Ivo Zorić", "Ema Đurić"]
    by_status = sales.page(0, 10, sort=ClientSort.STATUS)
    assert len(by_status) == 5


def test_interrupted_registration_is_finished_at_next_start(context, sales):
    from alko_desk.models.clients import ClientStatus

    c = sales.register(new_client_id(), draft())
    # Simulate a crash after the client document was written but before it was listed.
    context.pending_repo.begin(
        IntentRecord(f"clients.register:{c.id}", "clients.register", {"client_id": c.id})
    )
    context.client_list_repo.remove(c.id)
    assert sales.search("zelj") == [] and sales.count() == 0
    assert sales.recover_pending() == 1
    assert [r.id for r in sales.search("zelj")] == [c.id]
    assert sales.count() == 1
    assert context.pending_repo.all() == []
    # read back from the database, not the object register() returned before the "crash"
    recovered = sales.get(c.id)
    assert recovered.status is ClientStatus.PROSPECT and recovered.draft.last_name == "Kovačević"
    assert [r.status for r in sales.search("zelj")] == [ClientStatus.PROSPECT]


def test_bulk_registration_is_searchable_and_counted(sales):
    items = [
        (
            new_client_id(),
            draft(
                f"Ime{n}", f"Prezime{n}", email=f"b{n}@example.hr", phone="", id_number=f"77{n:07d}"
            ),
        )
        for n in range(30)
    ]
    assert sales.register_many(items) == 30
    assert sales.count() == 30
    assert [r.display_name for r in sales.search("prezime17")] == ["Ime17 Prezime17"]
    assert sales.search("b5@example.hr")[0].display_name == "Ime5 Prezime5"


def test_login_finishes_a_registration_that_a_crash_interrupted(context, make_user):

    session = make_user("sam", Role.SALES)
    clients = context.services_for(session).clients
    c = clients.register(new_client_id(), draft())
    context.pending_repo.begin(
        IntentRecord(f"clients.register:{c.id}", "clients.register", {"client_id": c.id})
    )
    assert (
        context.finish_interrupted_work(
            context.auth.login("sam", "sam chooses a long passphrase 9")
        )
        == 1
    )
    assert context.pending_repo.all() == []


def test_every_declared_sort_pages_both_ways_and_search_keeps_the_list_order(sales, clock):
    from datetime import timedelta

    from alko_desk.models.listing import PageRequest

    people = [("Iva", "Adamić"), ("Zora", "Anić"), ("Ana", "Babić"), ("Олена", "Єременко")]
    people += [("Іван", "Гаврилюк"), ("Тарас", "Ярошенко")]
    items = [
        (
            new_client_id(),
            draft(first, last, email=f"s{n}@example.hr", phone="", id_number=f"55{n:07d}"),
        )
        for n, (first, last) in enumerate(people)
    ]
    activity = {cid: clock.now() - timedelta(days=n) for n, (cid, _) in enumerate(items)}
    sales.register_many(items, last_activity=activity)
    by_name = [r.display_name for r in sales.page(0, 10)]
    assert by_name == [
        "Iva Adamić",
        "Zora Anić",
        "Ana Babić",
        "Іван Гаврилюк",
        "Олена Єременко",
        "Тарас Ярошенко",
    ]
    assert [r.display_name for r in sales.page(0, 10, "name", True)] == by_name[::-1]
    newest_first = [r.id for r in sales.page(0, 10, ClientSort.LAST_ACTIVITY, True)]
    assert newest_first == [cid for cid, _ in items]
    assert [r.id for r in sales.page(4, 2, "last_activity")] == [items[1][0], items[0][0]]
    assert {r.status.value for r in sales.page(0, 10, "status")} == {"prospect"}
    # a search shows its rows in the list's order, whatever order they were typed in
    assert [r.display_name for r in sales.search("a")] == ["Iva Adamić", "Zora Anić", "Ana Babić"]
    page = sales.list_page(PageRequest(start=1, count=2, sort="name"))
    assert page.total == 6 and [r.display_name for r in page.rows] == by_name[1:3]
    found = sales.list_page(PageRequest(query="ана", count=10))  # no match: Cyrillic ≠ Latin
    assert found.total == 0
    assert sales.list_page(PageRequest(query="єре")).rows[0].display_name == "Олена Єременко"
    with pytest.raises(ValidationError):
        sales.list_page(PageRequest(sort="city"))
    assert sales.SORTS == ("name", "status", "last_activity")


def test_many_shared_contacts_in_one_import_are_all_recorded(context):
    # 150 values already known: more updates than FerretDB 1.24 answers in one command
    # (it kept every update's connection until the command ended and hung past 100).
    lookups = context.lookups_repo
    lookups.add_many([(f"phone:{n}", f"first{n}") for n in range(150)])
    lookups.add_many([(f"phone:{n}", f"second{n}") for n in range(150)])
    assert lookups.find("phone:0") == ["first0", "second0"]
    assert lookups.find("phone:149") == ["first149", "second149"]


def test_demo_clients_consent_on_the_day_they_registered_and_still_verify(sales):
    """Back-dated registrations (demo data, imports) carry their consent from that day."""
    from alko_desk.services.demo import DemoSeeder

    DemoSeeder(sales, seed=5).seed(12)
    rows = sales.page(0, 20)
    assert len(rows) == 12
    for row in rows:
        client = sales.get(row.id)  # refused as tampered if the MAC did not cover the consent
        assert client.consent.at == client.created_at, client.draft.display_name
        assert client.created_at < sales.now() - timedelta(minutes=59)
        assert client.last_activity >= client.created_at


def test_list_position_is_where_the_client_stands_in_every_sort_and_search(sales):
    from alko_desk.models.listing import PageRequest

    names = [("Ana", "Babić"), ("Zora", "Anić"), ("Iva", "Žic"), ("Ivo", "Car")]
    for n, (first, last) in enumerate(names):
        email = f"c{n}@x.hr"
        sales.register(
            new_client_id(), draft(first, last, email=email, phone="", id_number=f"77{n}000001")
        )
    for sort in ("name", "status", "last_activity"):
        for descending in (False, True):
            request = PageRequest(0, 10, sort, descending)
            rows = sales.list_page(request).rows
            assert [sales.list_position(r.id, request) for r in rows] == [0, 1, 2, 3]
    search = PageRequest(0, 10, "name", query="iv")
    found = sales.list_page(search).rows
    assert [r.display_name for r in found] == ["Ivo Car", "Iva Žic"]
    assert sales.list_position(found[1].id, search) == 1
    ana = next(r for r in sales.list_page(PageRequest()).rows if r.display_name == "Ana Babić")
    assert sales.list_position(ana.id, search) == -1
    assert sales.list_position("no-such-client", PageRequest()) == -1
