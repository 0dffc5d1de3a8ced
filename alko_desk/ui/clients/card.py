"""A client's card on paper: the details a salesperson hands over or files, numbers masked.

The user chooses the printer in QPrintDialog; the print is recorded in the audit
log (through `ClientCardService`) before anything is sent to it.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QTextDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QWidget

from alko_desk.models.clients import Client
from alko_desk.services.client_validation import format_phone
from alko_desk.ui.clients.formatting import format_date, format_datetime

_tr = QCoreApplication.translate


def card_rows(client: Client) -> list[tuple[str, str]]:
    d = client.draft
    address = ", ".join(
        p
        for p in (
            d.address.street,
            f"{d.address.postal_code} {d.address.city}".strip(),
            d.address.country,
        )
        if p
    )
    return [
        (_tr("ClientCard", "Date of birth"), format_date(d.birth_date)),
        (_tr("ClientCard", "ID document"), _tr("IdDocumentType", d.id_type.label)),
        (_tr("ClientCard", "ID number"), d.id_number),  # masked as the service returned it
        (_tr("ClientCard", "Driving licence"), d.licence_number),
        (_tr("ClientCard", "Email"), d.email),
        (_tr("ClientCard", "Phone"), format_phone(d.phone) if d.phone else ""),
        (_tr("ClientCard", "Address"), address),
        (_tr("ClientCard", "Preferred contact"), _tr("ContactChannel", d.preferred_channel.label)),
        (
            _tr("ClientCard", "Marketing consent"),
            _tr("ClientCard", "Given")
            if client.consent.granted
            else _tr("ClientCard", "Not given"),
        ),
        (_tr("ClientCard", "Notes"), d.notes),
        (_tr("ClientCard", "Registered"), format_datetime(client.created_at)),
    ]


def card_html(client: Client, company: str = "") -> str:
    rows = "".join(
        f"<tr><td style='color:#555;padding-right:14px'>{escape(label)}</td>"
        f"<td>{escape(value or '—').replace(chr(10), '<br>')}</td></tr>"
        for label, value in card_rows(client)
    )
    heading = escape(company) + " — " if company else ""
    return (
        f"<p style='color:#555'>{heading}{escape(_tr('ClientCard', 'Client card'))}</p>"
        f"<h2>{escape(client.display_name)}</h2>"
        f"<p>{escape(_tr('ClientStatus', client.status.label))}</p>"
        f"<table cellspacing='0' cellpadding='3'>{rows}</table>"
    )


def choose_printer(parent: QWidget | None) -> QPrinter | None:
    """The printer the user picks in the platform's print dialog, or None when cancelled."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle(_tr("ClientCard", "Print client card"))
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return printer


def print_card(client: Client, printer: QPrinter, company: str = "") -> None:
    document = QTextDocument()
    document.setHtml(card_html(client, company))
    document.print_(printer)


def print_client_card(
    client: Client,
    *,
    parent: QWidget,
    tasks,
    record_print: Callable[[str, int], None],
    company: str = "",
    printer_chooser: Callable[[QWidget | None], QPrinter | None] = choose_printer,
    done: Callable[[], None] | None = None,
) -> bool:
    """Asks for a printer, records the print, then prints; False when the user cancelled."""
    printer = printer_chooser(parent)
    if printer is None:
        return False
    copies = max(1, printer.copyCount())
    client_id = client.id

    def printed(_: object) -> None:
        print_card(client, printer, company)
        if done is not None:
            done()

    tasks.run(
        lambda: record_print(client_id, copies),
        on_success=printed,
        parent=parent,
        title=_tr("ClientCard", "Print client card"),
    )
    return True
