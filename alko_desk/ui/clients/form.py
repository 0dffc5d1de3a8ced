"""The client form: registration and edit, validated as the user types.

`ClientForm` is the fields and their messages; `ClientFormDialog` saves them
through the service in a worker. The client id is chosen when the dialog opens,
so a second click on Save (or a Retry after the database came back) saves the
same client again instead of a second one. Nothing typed is lost on a failure:
the dialog only closes when the service has saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QLocale, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from alko_desk import PRIVACY_POLICY_VERSION
from alko_desk.models.clients import (
    FIELD_NAMES,
    Address,
    Client,
    ClientDraft,
    ContactChannel,
    DuplicateClient,
    DuplicateMatch,
    IdDocumentType,
)
from alko_desk.models.errors import ConcurrentModification, ValidationError
from alko_desk.services.client_validation import MAX_NOTES, check_field, format_phone
from alko_desk.ui.clients.formatting import entry_date, looks_like_date, parse_entry_date
from alko_desk.ui.dialogs import may_discard
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import ERROR_STYLE, MUTED_STYLE, error_label, heading, note, set_error

_tr = QCoreApplication.translate
WARNING_STYLE = "color: #8a5300;"
PANEL_STYLE = (
    "QFrame#duplicates { border: 1px solid #d9a441; border-radius: 6px; background: #fff8e6; }"
    "QFrame#duplicates QLabel { background: transparent; }"
)

# The service's field names, in the order the form shows them.
TEXT_FIELDS = (
    "first_name",
    "last_name",
    "birth_date",
    "id_number",
    "licence_number",
    "email",
    "phone",
    "street",
    "postal_code",
    "city",
    "country",
)
FIELDS = FIELD_NAMES
CHECKED_AS_TYPED = (
    "first_name",
    "last_name",
    "birth_date",
    "id_number",
    "licence_number",
    "email",
    "phone",
    "notes",
)
MASKABLE = ("id_number", "licence_number")
REQUIRED = ("first_name", "last_name", "birth_date", "id_number")
NOTES_RECHECK_MS = 150  # notes are checked once typing pauses, not at every keystroke


def required_label(text: str) -> str:
    """A label marked as required before anything is submitted."""
    return f"{text} *"


def field_labels() -> dict[str, str]:
    """The form's labels; the same English words the service uses in conflict reports."""
    return {
        "first_name": _tr("ClientForm", "First name"),
        "last_name": _tr("ClientForm", "Last name"),
        "birth_date": _tr("ClientForm", "Date of birth"),
        "id_type": _tr("ClientForm", "ID document type"),
        "id_number": _tr("ClientForm", "ID number"),
        "licence_number": _tr("ClientForm", "Driving licence number"),
        "email": _tr("ClientForm", "Email"),
        "phone": _tr("ClientForm", "Phone"),
        "street": _tr("ClientForm", "Street"),
        "postal_code": _tr("ClientForm", "Postal code"),
        "city": _tr("ClientForm", "City"),
        "country": _tr("ClientForm", "Country"),
        "preferred_channel": _tr("ClientForm", "Preferred contact"),
        "marketing_consent": _tr("ClientForm", "Marketing consent"),
        "notes": _tr("ClientForm", "Notes"),
    }


def draft_values(draft: ClientDraft) -> dict[str, str]:
    """A draft as the form's raw values (what `ClientForm.values` returns)."""
    return {
        "first_name": draft.first_name,
        "last_name": draft.last_name,
        "birth_date": entry_date(draft.birth_date),
        "id_type": draft.id_type.value,
        "id_number": draft.id_number,
        "licence_number": draft.licence_number,
        "email": draft.email,
        "phone": format_phone(draft.phone) if draft.phone else "",
        "street": draft.address.street,
        "postal_code": draft.address.postal_code,
        "city": draft.address.city,
        "country": draft.address.country,
        "preferred_channel": draft.preferred_channel.value,
        "marketing_consent": "yes" if draft.marketing_consent else "no",
        "notes": draft.notes,
    }


def readable_value(name: str, raw: str) -> str:
    """A raw form value as a person reads it (conflict dialog)."""
    if name == "id_type" and raw:
        return _tr("IdDocumentType", IdDocumentType(raw).label)
    if name == "preferred_channel" and raw:
        return _tr("ContactChannel", ContactChannel(raw).label)
    if name == "marketing_consent":
        return _tr("ClientForm", "Given") if raw == "yes" else _tr("ClientForm", "Not given")
    return raw or "—"


class LimitedTextEdit(QPlainTextEdit):
    """Plain text that stops taking characters at `limit`: typing past it costs nothing.

    Qt lays a paragraph out again at every keystroke, so typing thousands of
    characters past a limit the form refuses anyway left the desk seconds behind
    the keyboard. A paste that would not fit is cut, and `cut` says so.
    """

    cut = Signal(int)  # characters left out of a paste

    def __init__(self, limit: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.limit = limit

    def length(self) -> int:
        return self.document().characterCount() - 1  # without the final paragraph mark

    def _room(self) -> int:
        return self.limit - self.length() + len(self.textCursor().selectedText())

    def keyPressEvent(self, event) -> None:
        text = event.text()
        inserts = bool(text) and (text.isprintable() or text in "\r\n\t")
        shortcut = event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.MetaModifier
        )
        if inserts and not shortcut and self._room() < len(text):
            event.accept()  # full: the keystroke is dropped before Qt lays anything out
            self.cut.emit(len(text))
            return
        super().keyPressEvent(event)

    def insertFromMimeData(self, source) -> None:
        text = source.text() if source is not None and source.hasText() else ""
        room = max(0, self._room())
        if len(text) > room:
            self.textCursor().insertText(text[:room])
            self.ensureCursorVisible()
            self.cut.emit(len(text) - room)
            return
        super().insertFromMimeData(source)


@dataclass
class _Field:
    widget: QWidget
    error: QLabel
    conflict: QLabel


class ClientForm(QWidget):
    """The fields of a client with a message beside each, checked as the user types."""

    changed = Signal(str)  # the name of the field the user changed

    def __init__(
        self, region: Callable[[], str], today: Callable[[], date], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._region = region
        self._today = today
        self._fields: dict[str, _Field] = {}
        self._touched: set[str] = set()
        self._masked: dict[str, str] = {}  # masked numbers shown as they came: unchanged means keep
        self._filling = False
        labels = field_labels()

        columns = QHBoxLayout()
        columns.setSpacing(16)
        person = self._group(_tr("ClientForm", "Person and documents"))
        self.first_name = self._line(person, "first_name", required_label(labels["first_name"]))
        self.last_name = self._line(person, "last_name", required_label(labels["last_name"]))
        self.birth_date = self._line(
            person,
            "birth_date",
            required_label(labels["birth_date"]),
            placeholder=_tr("ClientForm", "DD.MM.YYYY"),
        )
        self.id_type = QComboBox()
        for kind in IdDocumentType:
            self.id_type.addItem(_tr("IdDocumentType", kind.label), kind.value)
        self._add(person, "id_type", labels["id_type"], self.id_type)
        self.id_number = self._line(person, "id_number", required_label(labels["id_number"]))
        self.licence_number = self._line(
            person,
            "licence_number",
            labels["licence_number"],
            placeholder=_tr("ClientForm", "Optional"),
        )
        contact = self._group(_tr("ClientForm", "Contact and address"))
        self.email = self._line(
            contact, "email", labels["email"] + " †", placeholder="name@example.com"
        )
        self.phone = self._line(contact, "phone", labels["phone"] + " †")
        self.preferred_channel = QComboBox()
        for channel in ContactChannel:
            self.preferred_channel.addItem(_tr("ContactChannel", channel.label), channel.value)
        self._add(contact, "preferred_channel", labels["preferred_channel"], self.preferred_channel)
        self.street = self._line(contact, "street", labels["street"])
        self.postal_code = QLineEdit()
        self.postal_code.setAccessibleName(labels["postal_code"])
        self.postal_code.setMaximumWidth(90)
        self.city = QLineEdit()
        self.city.setAccessibleName(labels["city"])
        place = QWidget()
        place_row = QHBoxLayout(place)
        place_row.setContentsMargins(0, 0, 0, 0)
        place_row.addWidget(self.postal_code)
        place_row.addWidget(self.city, 1)
        self._add(
            contact,
            "postal_code",
            _tr("ClientForm", "Postal code, city"),
            place,
            widget_for_name=self.postal_code,
        )
        self._register("city", self.city, self._fields["postal_code"])
        self.country = self._line(contact, "country", labels["country"])
        columns.addWidget(person.parentWidget(), 1)
        columns.addWidget(contact.parentWidget(), 1)

        self.marketing_consent = QCheckBox(
            _tr(
                "ClientForm",
                "The client agrees to receive marketing: offers, events and news from ALKO Cars",
            )
        )
        consent_note = note(
            _tr(
                "ClientForm",
                "Privacy policy version {version} shown to the client. Consent "
                "is recorded with the time and your name; the client may "
                "withdraw it at any time.",
            ).format(version=PRIVACY_POLICY_VERSION)
        )
        self.consent_note = consent_note
        self.notes = LimitedTextEdit(MAX_NOTES)
        self.notes.setTabChangesFocus(True)
        self.notes.setAccessibleName(labels["notes"])
        self.notes.setPlaceholderText(
            _tr("ClientForm", "What the client is looking for; no sensitive data.")
        )
        self.notes.setFixedHeight(64)
        self._fields["notes"] = _Field(self.notes, error_label(), self._conflict_label())
        self._fields["marketing_consent"] = _Field(
            self.marketing_consent, error_label(), self._conflict_label()
        )

        self.required_note = note(
            _tr(
                "ClientForm",
                "* required   † an email or a phone number, so that the client can be reached",
            )
        )
        self.notes_counter = QLabel()
        self.notes_counter.setObjectName("notesCounter")
        self.notes_counter.setAlignment(Qt.AlignmentFlag.AlignRight)
        notes_row = QHBoxLayout()
        notes_row.addWidget(QLabel(labels["notes"]))
        notes_row.addStretch(1)
        notes_row.addWidget(self.notes_counter)
        self._notes_timer = QTimer(self)
        self._notes_timer.setSingleShot(True)
        self._notes_timer.setInterval(NOTES_RECHECK_MS)
        self._notes_timer.timeout.connect(lambda: self._recheck("notes"))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.required_note)
        layout.addLayout(columns)
        layout.addWidget(self.marketing_consent)
        layout.addWidget(consent_note)
        layout.addWidget(self._fields["marketing_consent"].conflict)
        layout.addLayout(notes_row)
        layout.addWidget(self.notes)
        layout.addWidget(self._fields["notes"].error)
        layout.addWidget(self._fields["notes"].conflict)

        for name in TEXT_FIELDS:
            edit: QLineEdit = self._fields[name].widget  # type: ignore[assignment]
            edit.textEdited.connect(lambda _text, n=name: self._edited(n))
            edit.editingFinished.connect(lambda n=name: self._left(n))
        self.notes.textChanged.connect(self._notes_changed)
        self.notes.cut.connect(self._notes_full)
        self.id_type.activated.connect(lambda _i: self.changed.emit("id_type"))
        self.preferred_channel.activated.connect(lambda _i: self.changed.emit("preferred_channel"))
        self.marketing_consent.toggled.connect(lambda _on: self.changed.emit("marketing_consent"))
        self.update_region_hint()
        self._update_notes_counter()

    # -- building --------------------------------------------------------------------------

    def _group(self, title: str) -> QFormLayout:
        box = QGroupBox(title, self)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setVerticalSpacing(6)
        return form

    def _conflict_label(self) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setStyleSheet(WARNING_STYLE)
        label.setVisible(False)
        label.setObjectName("conflict")
        return label

    def _line(self, form: QFormLayout, name: str, label: str, placeholder: str = "") -> QLineEdit:
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder)
        edit.setAccessibleName(label)
        self._add(form, name, label, edit)
        return edit

    def _add(
        self,
        form: QFormLayout,
        name: str,
        label: str,
        widget: QWidget,
        widget_for_name: QWidget | None = None,
    ) -> None:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        field = _Field(widget_for_name or widget, error_label(), self._conflict_label())
        column.addWidget(field.error)
        column.addWidget(field.conflict)
        form.addRow(label, box)
        self._fields[name] = field

    def _register(self, name: str, widget: QWidget, beside: _Field) -> None:
        """A second widget sharing a row (city beside the postal code) and its messages."""
        self._fields[name] = _Field(widget, beside.error, beside.conflict)

    def update_region_hint(self) -> None:
        region = self._region()
        self.phone.setPlaceholderText(
            _tr("ClientForm", "+country code, or a {region} number").format(region=region)
        )
        self.phone.setToolTip(
            _tr(
                "ClientForm",
                "Numbers without + are read as {region} numbers. Saved in the "
                "international format.",
            ).format(region=region)
        )

    # -- values ----------------------------------------------------------------------------

    def widget(self, name: str) -> QWidget:
        return self._fields[name].widget

    def values(self) -> dict[str, str]:
        out = {}
        for name in TEXT_FIELDS:
            out[name] = self._fields[name].widget.text()  # type: ignore[attr-defined]
        out["id_type"] = self.id_type.currentData()
        out["preferred_channel"] = self.preferred_channel.currentData()
        out["marketing_consent"] = "yes" if self.marketing_consent.isChecked() else "no"
        out["notes"] = self.notes.toPlainText()
        return out

    def set_values(self, values: dict[str, str], masked: dict[str, str] | None = None) -> None:
        """Fills the form. `masked` names numbers shown masked: left as they are, they stay as saved."""
        self._filling = True
        try:
            self._fill(values)
        finally:
            self._filling = False
        self._masked = dict(masked or {})
        self._touched.clear()
        self.clear_errors()

    def apply_fields(self, values: dict[str, str]) -> None:
        """Fields staff chose to take (from an ID document's MRZ): as if typed, so checked."""
        for name, value in values.items():
            if name == "id_type":
                self.id_type.setCurrentIndex(max(0, self.id_type.findData(value)))
                self._touched.add(name)
                self.changed.emit(name)
            elif name in self._fields and isinstance(self._fields[name].widget, QLineEdit):
                self._fields[name].widget.setText(value)
                self._edited(name)

    def _fill(self, values: dict[str, str]) -> None:
        for name in TEXT_FIELDS:
            self._fields[name].widget.setText(values.get(name, ""))  # type: ignore[attr-defined]
        self.id_type.setCurrentIndex(max(0, self.id_type.findData(values.get("id_type"))))
        self.preferred_channel.setCurrentIndex(
            max(0, self.preferred_channel.findData(values.get("preferred_channel")))
        )
        self.marketing_consent.setChecked(values.get("marketing_consent") == "yes")
        self.notes.setPlainText(values.get("notes", ""))

    def draft(self) -> ClientDraft:
        """What the service receives; only call once `check_all` found nothing."""
        v = self.values()
        return ClientDraft(
            first_name=v["first_name"],
            last_name=v["last_name"],
            birth_date=parse_entry_date(v["birth_date"]),
            id_type=IdDocumentType(v["id_type"]),
            id_number=v["id_number"],
            licence_number=v["licence_number"],
            email=v["email"],
            phone=v["phone"],
            address=Address(v["street"], v["postal_code"], v["city"], v["country"]),
            preferred_channel=ContactChannel(v["preferred_channel"]),
            marketing_consent=v["marketing_consent"] == "yes",
            notes=v["notes"],
        )

    # -- checking --------------------------------------------------------------------------

    def problem(self, name: str, values: dict[str, str] | None = None) -> str | None:
        """Why a field cannot be saved as it is, or None: the service's own per-field check."""
        values = values or self.values()
        raw = values[name]
        if name in MASKABLE and self._masked.get(name) == raw and raw:
            return None  # the saved number, still masked: kept as it is
        if name == "birth_date":
            if raw.strip() and parse_entry_date(raw) is None:
                if looks_like_date(raw):
                    return _tr("ClientForm", "There is no such date: check the day and the month.")
                return _tr("ClientForm", "Write the date as DD.MM.YYYY, for example 09.03.1984.")
            value = parse_entry_date(raw)
            return check_field("birth_date", value, self._region(), self._today())
        if name == "email" and not raw.strip() and not values["phone"].strip():
            return _tr(
                "ClientForm",
                "Enter an email address or a phone number, so we can reach the client.",
            )
        if name in CHECKED_AS_TYPED:
            return check_field(name, raw, self._region(), self._today())
        return None

    def check_all(self) -> dict[str, str]:
        """Checks every field, shows every message, focuses the first; returns the messages."""
        values = self.values()
        self._touched.update(CHECKED_AS_TYPED)
        errors = {n: p for n in CHECKED_AS_TYPED if (p := self.problem(n, values))}
        self.show_errors(errors)
        return errors

    def show_errors(self, errors: dict[str, str]) -> list[str]:
        """Shows messages beside their fields; returns the names that have no field here."""
        self.clear_errors()
        unplaced = []
        for name, message in errors.items():
            if name in self._fields:
                set_error(self._fields[name].error, message)
            else:
                unplaced.append(name)
        first = next((n for n in FIELDS if n in errors), None)
        if first:
            self._fields[first].widget.setFocus()
        return unplaced

    def clear_errors(self) -> None:
        for field in self._fields.values():
            set_error(field.error, "")

    def error_text(self, name: str) -> str:
        label = self._fields[name].error
        return label.text() if not label.isHidden() else ""

    def _edited(self, name: str) -> None:
        self._touched.add(name)
        self._recheck(name)
        if name in ("email", "phone"):
            self._recheck("phone" if name == "email" else "email")
        self.changed.emit(name)

    def _notes_changed(self) -> None:
        """Per keystroke only the counter; the check waits until typing pauses (long notes stay fast)."""
        self._update_notes_counter()
        if self._filling:
            return
        self._touched.add("notes")
        self._notes_timer.start()
        self.changed.emit("notes")

    def _update_notes_counter(self) -> None:
        length = self.notes.length()
        self.notes_counter.setText(
            _tr("ClientForm", "{n} / {limit}").format(
                n=QLocale().toString(length), limit=QLocale().toString(MAX_NOTES)
            )
        )
        full = length >= MAX_NOTES
        if self.notes_counter.property("full") != full:  # a style sheet per keystroke is slow
            self.notes_counter.setProperty("full", full)
            self.notes_counter.setStyleSheet(ERROR_STYLE if full else MUTED_STYLE)
        if not full and self._fields["notes"].error.text() == self._full_text():
            set_error(self._fields["notes"].error, "")

    def _full_text(self) -> str:
        return _tr("ClientForm", "Notes hold at most {limit} characters.").format(
            limit=QLocale().toString(MAX_NOTES)
        )

    def _notes_full(self, _left_out: int) -> None:
        set_error(self._fields["notes"].error, self._full_text())

    def _left(self, name: str) -> None:
        if self._fields[name].widget.text():  # type: ignore[attr-defined]
            self._touched.add(name)
        self._recheck(name)

    def _recheck(self, name: str) -> None:
        if name not in self._touched or name not in CHECKED_AS_TYPED:
            return
        set_error(self._fields[name].error, self.problem(name) or "")

    # -- after a conflict ------------------------------------------------------------------

    def merge_saved(
        self, original: dict[str, str], saved: dict[str, str], masked: dict[str, str]
    ) -> list[str]:
        """Takes the saved version, keeping the user's edits of fields nobody else changed.

        Where both changed a field, the saved value goes in and the user's own is
        shown beside it, so that nothing is lost or overwritten unseen. Returns
        the names of those fields.
        """
        mine = self.values()
        merged, both = {}, []
        for name in FIELDS:
            edited = mine[name] != original.get(name, "")
            theirs_changed = saved[name] != original.get(name, "")
            if edited and theirs_changed and mine[name] != saved[name]:
                merged[name] = saved[name]
                both.append(name)
            else:
                merged[name] = mine[name] if edited else saved[name]
        kept = {n: mine[n] for n in FIELDS}
        self.set_values(merged, masked)
        for name in both:
            label = self._fields[name].conflict
            label.setText(
                _tr("ClientForm", "Changed by someone else. Yours was: {value}").format(
                    value=readable_value(name, kept[name])
                )
            )
            label.setVisible(True)
        return both

    def clear_conflicts(self) -> None:
        for field in self._fields.values():
            field.conflict.setVisible(False)


class DuplicatesPanel(QFrame):
    """The new client beside the registered ones that share an email, phone or ID number."""

    open_existing = Signal(str)
    register_anyway = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("duplicates")
        self.setStyleSheet(PANEL_STYLE)
        self.setVisible(False)
        self._layout = QVBoxLayout(self)
        self.message = QLabel()
        self.message.setWordWrap(True)
        font = self.message.font()
        font.setBold(True)
        self.message.setFont(font)
        self._layout.addWidget(self.message)
        self.grid_host = QWidget()
        self._layout.addWidget(self.grid_host)
        self.explanation = note("")
        self._layout.addWidget(self.explanation)
        actions = QHBoxLayout()
        actions.addStretch(1)
        self.anyway_button = QPushButton(_tr("ClientForm", "Register anyway"))
        self.anyway_button.setToolTip(
            _tr("ClientForm", "Family members may share an email or phone.")
        )
        self.anyway_button.clicked.connect(self.register_anyway)
        actions.addWidget(self.anyway_button)
        self._layout.addLayout(actions)
        self.open_buttons: dict[str, QPushButton] = {}
        self.blocking = False

    def show_matches(
        self, values: dict[str, str], matches: list[DuplicateMatch], blocking: bool
    ) -> None:
        self.blocking = blocking
        if blocking:
            self.message.setText(
                _tr(
                    "ClientForm",
                    "This ID number is already registered. One document "
                    "identifies one person, so this client cannot be "
                    "registered again.",
                )
            )
            flagged = any("id_number" in m.matched_on and not m.same_name for m in matches)
            self.explanation.setText(
                _tr(
                    "ClientForm",
                    "The same ID number under a different name was recorded for a manager to "
                    "review. Open the existing client, or check the number on the document.",
                )
                if flagged
                else _tr("ClientForm", "Open the existing client to update their details.")
            )
        else:
            self.message.setText(
                _tr("ClientForm", "Already registered with the same contact details:")
            )
            self.explanation.setText(
                _tr(
                    "ClientForm",
                    "Open the existing client if it is the same person. "
                    "Register anyway if they only share an email or "
                    "phone, for example within a family.",
                )
            )
        self.anyway_button.setVisible(not blocking)
        self._build_grid(values, matches)
        self.setVisible(True)

    def _build_grid(self, values: dict[str, str], matches: list[DuplicateMatch]) -> None:
        old = self.grid_host.layout()
        if old is not None:
            QWidget().setLayout(old)  # reparents the old layout and its widgets away, to be deleted
        grid = QGridLayout(self.grid_host)
        grid.setContentsMargins(0, 4, 0, 4)
        grid.setHorizontalSpacing(18)
        rows = [
            ("name", _tr("ClientForm", "Name")),
            ("email", _tr("ClientForm", "Email")),
            ("phone", _tr("ClientForm", "Phone")),
            ("id_number", _tr("ClientForm", "ID number")),
        ]
        grid.addWidget(self._bold(_tr("ClientForm", "You are registering")), 0, 1)
        new_values = {
            "name": f"{values['first_name']} {values['last_name']}".strip(),
            "email": values["email"],
            "phone": values["phone"],
            "id_number": values["id_number"],
        }
        for r, (key, label) in enumerate(rows, start=1):
            grid.addWidget(note(label), r, 0)
            grid.addWidget(QLabel(new_values[key] or "—"), r, 1)
        self.open_buttons = {}
        for c, match in enumerate(matches, start=2):
            grid.addWidget(self._bold(_tr("ClientForm", "Already registered")), 0, c)
            grid.addWidget(QLabel(match.display_name), 1, c)
            for r, (key, _label) in enumerate(rows[1:], start=2):
                if key in match.matched_on:
                    same = QLabel(_tr("ClientForm", "✔ same"))
                    same.setStyleSheet(ERROR_STYLE + " font-weight: bold;")
                    grid.addWidget(same, r, c)
            button = QPushButton(_tr("ClientForm", "Open existing"))
            button.setAccessibleName(
                _tr("ClientForm", "Open existing: {name}").format(name=match.display_name)
            )
            button.clicked.connect(
                lambda _checked=False, cid=match.client_id: self.open_existing.emit(cid)
            )
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            grid.addWidget(button, len(rows) + 1, c)
            self.open_buttons[match.client_id] = button
        grid.setColumnStretch(len(matches) + 2, 1)

    @staticmethod
    def _bold(text: str) -> QLabel:
        label = QLabel(text)
        font = label.font()
        font.setBold(True)
        label.setFont(font)
        return label


class ClientFormDialog(QDialog):
    """Registers a new client, or edits `base`; emits `saved` with the client as saved."""

    saved = Signal(object)  # Client
    open_existing = Signal(str)  # a duplicate the user chose to open instead
    conflict_shown = Signal(object)  # the ConflictDialog, for whoever wants to watch it

    def __init__(
        self,
        clients,
        tasks: TaskRunner,
        *,
        region: Callable[[], str],
        today: Callable[[], date],
        base: Client | None = None,
        revealed: dict[str, str] | None = None,
        read_document: Callable[[QWidget], QDialog] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        from alko_desk.services.clients import new_client_id  # chosen now: one form, one client

        # Opens the ID document reader (a capture dialog that only reads the MRZ); its
        # `fields_chosen` fills this form. None where documents are not at hand.
        self._read_document = read_document
        self.reader: QDialog | None = None
        self._clients = clients
        self._tasks = tasks
        self.base = base
        self.client_id = base.id if base else new_client_id()
        self.saving = False
        self.save_attempts = 0
        self.conflict_dialog = None
        self.setWindowTitle(
            _tr("ClientForm", "Edit client") if base else _tr("ClientForm", "New client")
        )
        self.setModal(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        title = (
            _tr("ClientForm", "Edit {name}").format(name=base.display_name)
            if base
            else _tr("ClientForm", "Register a client")
        )
        layout.addWidget(heading(title))
        self.form = ClientForm(region, today)
        layout.addWidget(self.form)
        self.duplicates = DuplicatesPanel()
        self.duplicates.register_anyway.connect(lambda: self.save(allow_shared_contact=True))
        self.duplicates.open_existing.connect(self._open_existing)
        layout.addWidget(self.duplicates)
        self.error = error_label()
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox()
        self.save_button = self.buttons.addButton(
            _tr("ClientForm", "Save changes") if base else _tr("ClientForm", "Register"),
            QDialogButtonBox.ButtonRole.AcceptRole,
        )
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        # Left of Register/Cancel, apart from them: it fills the form, it does not close it.
        self.read_button = QPushButton(_tr("ClientForm", "Read from ID document…"))
        self.read_button.setVisible(read_document is not None)
        self.read_button.clicked.connect(self.read_id_document)
        self.save_button.clicked.connect(lambda: self.save())
        self.buttons.rejected.connect(self.reject)
        button_row = QHBoxLayout()
        button_row.addWidget(self.read_button)
        button_row.addWidget(self.buttons, 1)
        layout.addLayout(button_row)
        self.form.changed.connect(self._field_changed)
        if base:
            self._original = {**draft_values(base.draft), **(revealed or {})}
            masked = {f: getattr(base.draft, f) for f in MASKABLE if f not in (revealed or {})}
            self.form.set_values(self._original, masked)
        else:
            self._original = self.form.values()
        self.form.first_name.setFocus()
        self._make_save_the_only_default()
        self.setMinimumWidth(960)
        self._fit_timer = QTimer(self)  # a child: it dies with the dialog, and its timeout with it
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self._fit_height)

    # -- keyboard and closing --------------------------------------------------------------

    def _make_save_the_only_default(self) -> None:
        """Enter saves, wherever the focus is; no other button becomes the default on focus.

        A dialog's push buttons are auto-default: a focused Cancel (where focus lands
        while Save is disabled) would take Enter and throw the form away.
        """
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)
        self.save_button.setDefault(True)

    def read_id_document(self) -> QDialog | None:
        if self._read_document is None:
            return None
        self.reader = self._read_document(self)
        self.reader.fields_chosen.connect(self.form.apply_fields)
        self.reader.open()
        return self.reader

    def has_unsaved_input(self) -> bool:
        return self.form.values() != self._original

    def reject(self) -> None:
        """Escape, Cancel or the window's close button: asks first when something was typed."""
        if may_discard(self._tasks.dialogs, self, self.has_unsaved_input()):
            super().reject()

    # -- size ------------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest and hasattr(self, "_fit_timer"):
            self._fit_timer.start()  # a message appeared or went: fit once the layout settled
        return super().event(event)

    def _fit_height(self) -> None:
        """Grows (or shrinks) to what the wrapped messages need at this width; never squeezes a field.

        Qt gives a window the minimum of its layout, which ignores how tall
        word-wrapped labels get at the actual width, so that is done here.
        """
        layout = self.layout()
        layout.activate()
        needed = (
            layout.totalHeightForWidth(self.width())
            if layout.hasHeightForWidth()
            else layout.totalMinimumSize().height()
        )
        needed = max(needed, layout.totalMinimumSize().height())
        self.setMinimumHeight(needed)
        if self.height() != needed:
            self.resize(self.width(), needed)

    # -- saving ----------------------------------------------------------------------------

    def save(self, allow_shared_contact: bool = False) -> None:
        if self.saving:
            return  # the second click of a double-click
        set_error(self.error, "")
        self.error.setStyleSheet(ERROR_STYLE)
        if self.form.check_all():
            return
        if not allow_shared_contact:
            self.duplicates.setVisible(False)
        draft, base, clients, client_id = (
            self.form.draft(),
            self.base,
            self._clients,
            self.client_id,
        )

        def work() -> Client:  # on a worker: only the copies above, no widgets
            if base is None:
                return clients.register(client_id, draft, allow_shared_contact=allow_shared_contact)
            return clients.update(base, draft)

        self._set_saving(True)
        self.save_attempts += 1
        self._tasks.run(
            work,
            on_success=self._saved,
            on_failure=self._failed,
            on_finished=lambda: self._set_saving(False),
            parent=self,
            title=self.windowTitle(),
        )

    def _set_saving(self, saving: bool) -> None:
        self.saving = saving
        if saving:
            self._focus_before_saving = QApplication.focusWidget()
        self.save_button.setEnabled(not saving)
        self.duplicates.anyway_button.setEnabled(not saving)
        self.save_button.setText(
            _tr("ClientForm", "Saving…")
            if saving
            else (_tr("ClientForm", "Save changes") if self.base else _tr("ClientForm", "Register"))
        )
        if not saving:
            self._make_save_the_only_default()  # the duplicates panel adds buttons of its own
            before = getattr(self, "_focus_before_saving", None)
            focus = QApplication.focusWidget()
            if (
                before is not None
                and shiboken6.isValid(before)
                and before.isVisible()
                and (focus is None or isinstance(focus, QPushButton))
            ):
                before.setFocus()  # back where the user was, not on Cancel

    def _saved(self, client: Client) -> None:
        self.saved.emit(client)
        self.accept()

    def _failed(self, exc: BaseException) -> bool:
        if isinstance(exc, ValidationError):
            unplaced = self.form.show_errors(exc.field_errors)
            if unplaced or not exc.field_errors:
                set_error(self.error, exc.user_text())
            return True
        if isinstance(exc, DuplicateClient):
            self.duplicates.show_matches(self.form.values(), exc.matches, exc.blocking)
            return True
        if isinstance(exc, ConcurrentModification) and exc.current is not None:
            self._show_conflict(exc)
            return True
        return False  # the runner shows it; the database gone away offers Retry; the form stays

    def _field_changed(self, name: str) -> None:
        if (
            name in ("email", "phone", "id_number", "first_name", "last_name")
            and self.duplicates.isVisible()
        ):
            self.duplicates.setVisible(False)  # what it compared is no longer what is typed

    def _open_existing(self, client_id: str) -> None:
        self.open_existing.emit(client_id)
        super().reject()  # the user chose the registered client over what was typed

    # -- conflicts -------------------------------------------------------------------------

    def _show_conflict(self, exc: ConcurrentModification) -> None:
        from alko_desk.ui.clients.conflict import ConflictDialog

        dialog = ConflictDialog(exc, self.form.values(), self)
        dialog.reload_requested.connect(lambda: self.reload_saved(exc.current))
        self.conflict_dialog = dialog
        self.conflict_shown.emit(dialog)
        dialog.open()

    def reload_saved(self, current: Client) -> None:
        """Starts again from the version now saved, keeping the user's edits nobody else touched."""
        saved = draft_values(current.draft)
        masked = {f: getattr(current.draft, f) for f in MASKABLE}
        both = self.form.merge_saved(self._original, saved, masked)
        self.base = current
        self._original = saved
        if both:
            set_error(
                self.error,
                _tr(
                    "ClientForm",
                    "Someone else also changed the fields marked below; "
                    "their version is in the form now. Check them, then save.",
                ),
            )
        else:
            set_error(self.error, "")
        self.error.setStyleSheet(WARNING_STYLE)
