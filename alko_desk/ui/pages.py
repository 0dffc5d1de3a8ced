"""The sections of the main window: which role sees which, and how each page is made."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from alko_desk.models.users import Permission
from alko_desk.ui.tasks import TaskRunner
from alko_desk.ui.widgets import heading, note

if TYPE_CHECKING:
    from alko_desk.bootstrap import AppContext, SessionServices
    from alko_desk.ui.changes import ChangeWatcher

log = logging.getLogger(__name__)

PageFactory = Callable[["AppContext", "SessionServices", TaskRunner], QWidget]


class PlaceholderPage(QWidget):
    """A section that a later release fills in."""

    def __init__(self, title: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.addWidget(heading(title))
        self.message = note(text or self.tr("Coming in a later release."))
        layout.addWidget(self.message)
        layout.addStretch(1)
        self.setAccessibleName(title)


@dataclass(frozen=True)
class Section:
    key: str
    source_title: str  # untranslated; see title
    permission: Permission
    factory: Callable[[AppContext, SessionServices, TaskRunner], QWidget] | None = None
    # The factory also takes `changes=` (the window's ChangeWatcher) and refreshes on its own.
    watches_changes: bool = False

    @property
    def title(self) -> str:
        return QCoreApplication.translate("Section", self.source_title)

    def make_page(
        self,
        context: AppContext,
        services: SessionServices,
        tasks: TaskRunner,
        changes: ChangeWatcher | None = None,
    ) -> QWidget:
        if self.factory is None:
            return PlaceholderPage(self.title)
        if self.watches_changes and changes is not None:
            return self.factory(context, services, tasks, changes=changes)  # type: ignore[call-arg]
        return self.factory(context, services, tasks)


CLIENTS_MODULE = "alko_desk.ui.clients.page"


def clients_page(
    context: AppContext,
    services: SessionServices,
    tasks: TaskRunner,
    changes: ChangeWatcher | None = None,
) -> QWidget:
    """The clients engineer's ClientsPage when it is there, else a placeholder."""
    title = QCoreApplication.translate("Section", "Clients")
    try:
        module = importlib.import_module(CLIENTS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and CLIENTS_MODULE.startswith(exc.name):
            return PlaceholderPage(title)
        raise
    page_class = getattr(module, "ClientsPage", None)
    if page_class is None:
        return PlaceholderPage(title)
    return page_class(context, services, tasks, changes=changes)


def users_page(
    context: AppContext,
    services: SessionServices,
    tasks: TaskRunner,
    changes: ChangeWatcher | None = None,
) -> QWidget:
    from alko_desk.ui.users_page import UsersPage

    return UsersPage(context, services, tasks, changes=changes)


def audit_page(context: AppContext, services: SessionServices, tasks: TaskRunner) -> QWidget:
    from alko_desk.ui.audit_page import AuditPage

    return AuditPage(services, tasks)


def settings_page(
    context: AppContext,
    services: SessionServices,
    tasks: TaskRunner,
    changes: ChangeWatcher | None = None,
) -> QWidget:
    from alko_desk.ui.settings_page import SettingsPage

    return SettingsPage(context, services, tasks, changes=changes)


def vehicles_page(
    context: AppContext,
    services: SessionServices,
    tasks: TaskRunner,
    changes: ChangeWatcher | None = None,
) -> QWidget:
    from alko_desk.ui.vehicles_page import VehiclesPage

    return VehiclesPage(context, services, tasks, changes=changes)


def deals_page(
    context: AppContext,
    services: SessionServices,
    tasks: TaskRunner,
    changes: ChangeWatcher | None = None,
) -> QWidget:
    from alko_desk.ui.deals_page import DealsPage

    return DealsPage(context, services, tasks, changes=changes)


def invoices_page(
    context: AppContext,
    services: SessionServices,
    tasks: TaskRunner,
    changes: ChangeWatcher | None = None,
) -> QWidget:
    from alko_desk.ui.invoices_page import InvoicesPage

    return InvoicesPage(context, services, tasks, changes=changes)


def payments_page(
    context: AppContext,
    services: SessionServices,
    tasks: TaskRunner,
    changes: ChangeWatcher | None = None,
) -> QWidget:
    """Payments are recorded on the invoice they settle: the Invoices page, open items first."""
    from alko_desk.ui.invoices_page import InvoicesPage

    return InvoicesPage(context, services, tasks, changes=changes, only="open")


P = Permission
SECTIONS: tuple[Section, ...] = (
    Section(
        "clients",
        QT_TRANSLATE_NOOP("Section", "Clients"),
        P.CLIENT_READ,
        clients_page,
        watches_changes=True,
    ),
    Section(
        "vehicles",
        QT_TRANSLATE_NOOP("Section", "Vehicles"),
        P.VEHICLE_READ,
        vehicles_page,
        watches_changes=True,
    ),
    Section(
        "deals",
        QT_TRANSLATE_NOOP("Section", "Deals"),
        P.DEAL_READ,
        deals_page,
        watches_changes=True,
    ),
    Section(
        "invoices",
        QT_TRANSLATE_NOOP("Section", "Invoices"),
        P.INVOICE_READ,
        invoices_page,
        watches_changes=True,
    ),
    Section(
        "payments",
        QT_TRANSLATE_NOOP("Section", "Payments"),
        P.PAYMENT_READ,
        payments_page,
        watches_changes=True,
    ),
    Section("reports", QT_TRANSLATE_NOOP("Section", "Reports"), P.REPORT_READ),
    Section(
        "users",
        QT_TRANSLATE_NOOP("Section", "Users"),
        P.USER_ADMIN,
        users_page,
        watches_changes=True,
    ),
    Section(
        "settings",
        QT_TRANSLATE_NOOP("Section", "Settings"),
        P.SETTINGS_ADMIN,
        settings_page,
        watches_changes=True,
    ),
    Section("backups", QT_TRANSLATE_NOOP("Section", "Backups"), P.BACKUP_ADMIN),
    Section("privacy", QT_TRANSLATE_NOOP("Section", "Privacy requests"), P.PRIVACY_ADMIN),
    Section("audit", QT_TRANSLATE_NOOP("Section", "Audit log"), P.AUDIT_READ, audit_page),
)


def sections_for(can: Callable[[Permission], bool]) -> list[Section]:
    """The role's sections that exist; one not built yet is not shown at all."""
    return [s for s in SECTIONS if s.factory is not None and can(s.permission)]


def failed_page(title: str) -> QWidget:
    page = PlaceholderPage(
        title,
        QCoreApplication.translate(
            "Section", "This section could not be opened. The details were written to the log."
        ),
    )
    page.message.setAlignment(Qt.AlignmentFlag.AlignLeft)
    return page
