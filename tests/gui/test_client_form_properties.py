"""Property-based tests of the registration form itself: whatever is typed, it does not crash,
and what the form accepts the service accepts too (the form and the service never disagree)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alko_desk.services.client_validation import validate_draft
from alko_desk.ui.clients.form import TEXT_FIELDS, ClientForm

pytestmark = pytest.mark.gui
TODAY = date(2026, 11, 25)

field_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "Željko",
            "Петров",
            "31.02.1986",
            "09.03.1984",
            "1984-03-09",
            "091 234 5678",
            "+385 91 234 5678",
            "a@b.hr",
            "not-an-email",
            "HR778899",
            "112233445",
            "x",
        ]
    ),
)
typed = st.fixed_dictionaries(dict.fromkeys(TEXT_FIELDS, field_text))


@pytest.fixture(scope="module")
def form(qapp):
    widget = ClientForm(region=lambda: "HR", today=lambda: TODAY)
    yield widget
    widget.deleteLater()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=typed, consent=st.booleans())
def test_any_typing_is_either_flagged_beside_a_field_or_accepted_by_the_service(
    form, values, consent
):
    form.set_values(
        {
            **values,
            "id_type": "national_id",
            "preferred_channel": "email",
            "marketing_consent": "yes" if consent else "no",
            "notes": "",
        }
    )
    errors = form.check_all()
    for name, message in errors.items():
        assert isinstance(message, str) and message
        assert form.error_text(name) == message
    if not errors:
        _, service_errors = validate_draft(form.draft(), "HR", today=TODAY)
        assert service_errors == {}
