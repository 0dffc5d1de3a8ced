"""One client's details beside the list: masked numbers until Reveal, a clear unreadable state."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from alko_desk.models.clients import Client, ClientStatus, UnreadableClient
from alko_desk.services.client_validation import format_phone
from alko_desk.ui.clients.form import field_labels
from alko_desk.ui.clients.formatting import format_date, format_datetime
from alko_desk.ui.widgets import ERROR_STYLE, heading, note

_tr = QCoreApplication.translate
BADGE_STYLE = {
    ClientStatus.PROSPECT: "background: #dbe6f5; color: #1f3b63;",
    ClientStatus.CUSTOMER: "background: #d5ecd9; color: #1e6b34;",
    ClientStatus.RESTRICTED: "background: #f8d7d4; color: #b3261e;",
}
UNREADABLE_STYLE = (
    "QFrame#unreadable { border: 1px solid #b3261e; border-radius: 6px; background: #fdf0ef; }"
    "QFrame#unreadable QLabel { background: transparent; }"
)
# Revealed numbers are masked again after this, or when another client is chosen.
REVEAL_SECONDS = 30
SHOWN_FIELDS = (
    "birth_date",
    "id_type",
    "id_number",
    "licence_number",
    "email",
    "phone",
    "address",
    "preferred_channel",
    "marketing_consent",
    "notes",
    "registered",
    "last_activity",
)


class ClientDetailPanel(QWidget):
    """Shows a `Client` or an `UnreadableClient`; asks its owner to edit or reveal."""

    edit_requested = Signal()
    reveal_requested = Signal()

    def __init__(self, *, can_edit: bool, can_reveal: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.can_edit = can_edit
        self.can_reveal = can_reveal
        self.client: Client | UnreadableClient | None = None
        self.revealed: dict[str, str] = {}
        self.reveal_timer = QTimer(self)
        self.reveal_timer.setSingleShot(True)
        self.reveal_timer.setInterval(REVEAL_SECONDS * 1000)
        self.reveal_timer.timeout.connect(self.hide_revealed)
        self.setMinimumWidth(330)
        self.stack = QStackedWidget()
        self.empty_page = self._message_page(
            _tr("ClientDetail", "Select a client in the list to see their details here.")
        )
        self.loading_page = self._message_page(_tr("ClientDetail", "Opening the client…"))
        self.client_page = self._build_client_page()
        self.unreadable_page = self._build_unreadable_page()
        for page in (self.empty_page, self.loading_page, self.client_page, self.unreadable_page):
            self.stack.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.show_nothing()

    # -- building --------------------------------------------------------------------------

    @staticmethod
    def _message_page(text: str) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(16, 16, 16, 16)
        label = note(text)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)
        layout.addWidget(label)
        layout.addStretch(2)
        return page

    def _build_client_page(self) -> QWidget:
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(16, 12, 16, 12)
        top = QHBoxLayout()
        self.name = heading("", 14)
        self.name.setWordWrap(True)
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.name, 1)
        self.edit_button = QPushButton(_tr("ClientDetail", "Edit…"))
        self.edit_button.clicked.connect(self.edit_requested)
        top.addWidget(self.edit_button, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(top)
        badges = QHBoxLayout()
        self.status = QLabel()
        self.status.setObjectName("status")
        badges.addWidget(self.status)
        badges.addStretch(1)
        outer.addLayout(badges)

        body = QWidget()
        form = QFormLayout(body)
        form.setContentsMargins(0, 6, 0, 6)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setVerticalSpacing(7)
        labels = field_labels()
        titles = {
            **labels,
            "id_type": _tr("ClientDetail", "ID document"),
            "address": _tr("ClientDetail", "Address"),
            "licence_number": _tr("ClientDetail", "Driving licence"),
            "registered": _tr("ClientDetail", "Registered"),
            "last_activity": _tr("ClientDetail", "Last activity"),
        }
        self.values: dict[str, QLabel] = {}
        for name in SHOWN_FIELDS:
            value = QLabel()
            value.setWordWrap(True)
            value.setTextFormat(Qt.TextFormat.PlainText)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setAccessibleName(titles[name])
            caption = note(titles[name])
            caption.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
            form.addRow(caption, value)
            self.values[name] = value
        self.reveal_button = QPushButton(_tr("ClientDetail", "Reveal numbers"))
        self.reveal_button.setToolTip(
            _tr(
                "ClientDetail",
                "Show the ID and driving licence numbers. Recorded in the audit log.",
            )
        )
        self.reveal_button.clicked.connect(self._reveal_clicked)
        self.masked_note = note(_tr("ClientDetail", "Recorded in the audit log."))
        # The note under the button, not squeezed beside it into a narrow column.
        reveal_row = QVBoxLayout()
        reveal_row.setSpacing(2)
        reveal_row.addWidget(self.reveal_button, 0, Qt.AlignmentFlag.AlignLeft)
        reveal_row.addWidget(self.masked_note)
        form.insertRow(
            SHOWN_FIELDS.index("email"), "", reveal_row
        )  # right under the masked numbers
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        # Details, and whatever else the page adds about the client (its ID documents); the
        # tab bar appears only once there is a second tab.
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setTabBarAutoHide(True)
        self.tabs.addTab(scroll, _tr("ClientDetail", "Details"))
        outer.addWidget(self.tabs, 1)
        self.reveal_button.setVisible(self.can_reveal)
        self.masked_note.setVisible(self.can_reveal)
        self.edit_button.setVisible(self.can_edit)
        return page

    def _build_unreadable_page(self) -> QWidget:
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(16, 12, 16, 12)
        self.unreadable_name = heading("", 14)
        self.unreadable_name.setWordWrap(True)
        outer.addWidget(self.unreadable_name)
        box = QFrame()
        box.setObjectName("unreadable")
        box.setStyleSheet(UNREADABLE_STYLE)
        inside = QVBoxLayout(box)
        title = QLabel(_tr("ClientDetail", "This client's personal data cannot be read"))
        title.setStyleSheet(ERROR_STYLE + " font-weight: bold;")
        title.setWordWrap(True)
        inside.addWidget(title)
        self.unreadable_reason = QLabel()
        self.unreadable_reason.setWordWrap(True)
        self.unreadable_reason.setTextFormat(Qt.TextFormat.PlainText)
        inside.addWidget(self.unreadable_reason)
        inside.addWidget(
            note(
                _tr(
                    "ClientDetail",
                    "Nothing is shown rather than something wrong. The client "
                    "may have been erased, or the data was damaged: ask an admin "
                    "to check, and do not register the client again meanwhile.",
                )
            )
        )
        outer.addWidget(box)
        outer.addStretch(1)
        return page

    def add_tab(self, widget: QWidget, title: str) -> int:
        """Another view of the shown client (it follows the client through the page)."""
        return self.tabs.addTab(widget, title)

    # -- showing ---------------------------------------------------------------------------

    @property
    def client_id(self) -> str | None:
        return self.client.id if self.client is not None else None

    def show_nothing(self) -> None:
        self.client = None
        self._forget_revealed()
        self.stack.setCurrentWidget(self.empty_page)

    def show_loading(self) -> None:
        if self.revealed:
            self.hide_revealed()  # another client chosen (or this one reloaded): masked again
        self.stack.setCurrentWidget(self.loading_page)

    def _forget_revealed(self) -> None:
        self.revealed = {}
        self.reveal_timer.stop()

    def show_client(self, client: Client | UnreadableClient) -> None:
        if self.client is None or self.client.id != client.id:
            self._forget_revealed()
        self.client = client
        if isinstance(client, UnreadableClient):
            self.unreadable_name.setText(client.display_name)
            self.unreadable_reason.setText(client.reason)
            self.stack.setCurrentWidget(self.unreadable_page)
            return
        self._fill(client)
        self.stack.setCurrentWidget(self.client_page)

    def show_revealed(self, client_id: str, values: dict[str, str]) -> None:
        if self.client_id != client_id or not isinstance(self.client, Client):
            return
        self.revealed = dict(values)
        self.reveal_timer.start()
        self._fill(self.client)

    def hide_revealed(self) -> None:
        self._forget_revealed()
        if isinstance(self.client, Client):
            self._fill(self.client)

    def _reveal_clicked(self) -> None:
        if self.revealed:
            self.hide_revealed()
        else:
            self.reveal_requested.emit()

    def set_revealing(self, busy: bool) -> None:
        self.reveal_button.setEnabled(not busy)

    def _fill(self, client: Client) -> None:
        d = client.draft
        self.name.setText(client.display_name)
        self.status.setText(_tr("ClientStatus", client.status.label))
        self.status.setStyleSheet(
            BADGE_STYLE[client.status] + " border-radius: 8px; padding: 2px 10px;"
        )
        consent = client.consent
        if consent.granted:
            consent_text = _tr("ClientDetail", "Given {when} by {who}, policy {version}").format(
                when=format_datetime(consent.at), who=consent.by, version=consent.policy_version
            )
        else:
            consent_text = _tr("ClientDetail", "Not given")
        address = "\n".join(
            p
            for p in (
                d.address.street,
                f"{d.address.postal_code} {d.address.city}".strip(),
                d.address.country,
            )
            if p
        )
        texts = {
            "birth_date": format_date(d.birth_date),
            "id_type": _tr("IdDocumentType", d.id_type.label),
            "id_number": self.revealed.get("id_number", d.id_number),
            "licence_number": self.revealed.get("licence_number", d.licence_number),
            "email": d.email,
            "phone": format_phone(d.phone) if d.phone else "",
            "address": address,
            "preferred_channel": _tr("ContactChannel", d.preferred_channel.label),
            "marketing_consent": consent_text,
            "notes": d.notes,
            "registered": _tr("ClientDetail", "{when} by {who}").format(
                when=format_datetime(client.created_at), who=client.created_by
            ),
            "last_activity": format_datetime(client.last_activity),
        }
        for name, text in texts.items():
            self.values[name].setText(text or "—")
        self.reveal_button.setText(
            _tr("ClientDetail", "Hide numbers")
            if self.revealed
            else _tr("ClientDetail", "Reveal numbers")
        )
        self.reveal_button.setEnabled(bool(d.id_number or d.licence_number))

    def text_of(self, name: str) -> str:
        return self.values[name].text()
