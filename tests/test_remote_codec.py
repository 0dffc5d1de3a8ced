"""The wire codec: every model value round-trips; nothing off the allow-list is accepted."""

import enum
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alko_desk.models.audit import AuditEntry
from alko_desk.models.changes import Change, ChangeBatch, ChangeKind
from alko_desk.models.clients import (
    Address,
    ClientDraft,
    ClientRow,
    ClientStatus,
    ContactChannel,
    DuplicateClient,
    DuplicateMatch,
    IdDocumentType,
)
from alko_desk.models.errors import (
    AlkoError,
    ConcurrentModification,
    NotFound,
    ReauthenticationRequired,
    ValidationError,
)
from alko_desk.models.listing import Page, PageRequest
from alko_desk.models.money import Money
from alko_desk.models.users import Role, Session, User
from alko_desk.remote import codec

text = st.text(max_size=30)  # any Unicode, diacritics and Cyrillic included
aware = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5))]),
)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=4)
money = st.builds(Money, decimals, st.sampled_from(["EUR", "HRK", "JPY", "BHD", "USD"]))
drafts = st.builds(
    ClientDraft,
    first_name=text,
    last_name=text,
    birth_date=st.none() | st.dates(),
    id_type=st.sampled_from(IdDocumentType),
    id_number=text,
    licence_number=text,
    email=text,
    phone=text,
    address=st.builds(Address, text, text, text, text),
    preferred_channel=st.sampled_from(ContactChannel),
    marketing_consent=st.booleans(),
    notes=text,
)
rows = st.builds(
    ClientRow, text, text, text, text, st.sampled_from(ClientStatus), st.none() | aware
)
users = st.builds(
    User,
    username=text,
    full_name=text,
    role=st.sampled_from(Role),
    active=st.booleans(),
    created_at=st.none() | aware,
)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
    | st.binary(max_size=64)
    | decimals
    | aware
    | st.dates()
    | money
    | st.sampled_from(ChangeKind)
    | st.sampled_from(Role)
    | rows
    | users
    | drafts
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(text, inner, max_size=4)
        | st.dictionaries(st.integers() | st.sampled_from(Role), inner, max_size=4)
        | st.frozensets(st.integers() | text, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_any_model_value_round_trips_with_its_types(value):
    back = codec.loads(codec.dumps(value))
    assert back == value
    assert _types(back) == _types(value)


def _types(value):
    if isinstance(value, list | tuple):
        return (type(value), [_types(v) for v in value])
    if isinstance(value, dict):
        return (dict, sorted((repr(k), _types(v)) for k, v in value.items()))
    if isinstance(value, datetime):
        return (datetime, value.utcoffset())
    return type(value)


@given(st.builds(Page, st.lists(rows, max_size=5).map(tuple), st.integers(0, 10**6)))
def test_pages_of_rows_round_trip(page):
    assert codec.loads(codec.dumps(page)) == page


def test_slotted_frozen_records_enums_and_money_round_trip():
    batch = ChangeBatch(7, (Change(7, "clients", ChangeKind.ADDED, ("a",), datetime.now(UTC)),))
    entry = AuditEntry(1, datetime.now(UTC), "sam", "login", details={"n": Decimal("1.10")})
    request = PageRequest(0, 50, "name", True, "kov", {"status": ClientStatus.ACTIVE})
    for value in (batch, entry, request, Money.of("19.999", "EUR"), date(2026, 11, 25)):
        assert codec.loads(codec.dumps(value)) == value
    assert codec.loads(codec.dumps(Money.of("1.005"))).amount == Decimal("1.01")


@settings(max_examples=100, deadline=None)
@given(
    message=text,
    hint=text,
    field_errors=st.dictionaries(text, text, max_size=3),
    changed=st.lists(text, max_size=3),
)
def test_domain_errors_keep_their_class_user_text_and_details(message, hint, field_errors, changed):
    for exc in (
        AlkoError(message, hint=hint),
        ValidationError(message, field_errors),
        ConcurrentModification(message, changed, current=None),
        NotFound(message, hint=hint),
        ReauthenticationRequired(),
        DuplicateClient([DuplicateMatch("c1", message, ("email",), True)], blocking=True),
    ):
        back = codec.loads(codec.dumps(exc))
        assert type(back) is type(exc)
        assert back.message == exc.message and back.hint == exc.hint
        assert back.user_text() == exc.user_text()
        assert vars(back) == vars(exc)


def test_an_error_class_defined_elsewhere_travels_as_its_nearest_model_base():
    class LocalProblem(NotFound):
        pass

    back = codec.loads(codec.dumps(LocalProblem("Gone.", hint="Look again.")))
    assert type(back) is NotFound and back.user_text() == "Gone.\n\nLook again."


def _wire(body) -> bytes:
    return json.dumps({"v": codec.VERSION, "body": body}).encode()


@pytest.mark.parametrize(
    "body",
    [
        {"$": "obj", "t": "os.system", "f": {}},
        {"$": "obj", "t": "subprocess.Popen", "f": {"args": "id"}},
        {"$": "enum", "t": "builtins.type", "v": 1},
        {"$": "err", "t": "builtins.SystemExit", "a": {}},
        {"$": "obj", "t": "users.Session", "f": {}},  # holds a key: never on the wire
        {"$": "obj", "t": "users.User", "f": {"__class__": 1}},
        {"$": "pickle", "v": "gASVAAAAAAAAAAA="},
        {"no": "tag"},
        {"$": "dt", "v": "2026-11-25T09:00:00"},  # naive
    ],
)
def test_names_off_the_allow_list_and_bad_shapes_are_refused(body):
    with pytest.raises(codec.CodecError):
        codec.loads(_wire(body))


def test_types_outside_the_models_and_naive_datetimes_are_not_sent():
    @dataclass
    class Foreign:
        x: int

    class Colour(enum.Enum):
        RED = 1

    session = Session(User("a", "A", Role.SALES), b"k" * 32, datetime.now(UTC), "s")
    for value in (Foreign(1), Colour.RED, object(), lambda: 1, datetime(2026, 1, 1), session):
        with pytest.raises(codec.CodecError):
            codec.dumps(value)


def test_another_version_is_refused_with_a_reason():
    with pytest.raises(codec.CodecError, match="version"):
        codec.loads(json.dumps({"v": 99, "body": None}))


def test_a_deal_draft_with_a_business_buyer_travels_to_the_server():
    from alko_desk.models.deals import BusinessBuyer, DealDraft

    buyer = BusinessBuyer("Autohaus Müller GmbH", "DE136695976", "Hauptstraße 5", "80331")
    draft = DealDraft("C-1", "V-1", deposit=Money.of("1000"), business_buyer=buyer)
    assert codec.loads(codec.dumps(draft)) == draft
