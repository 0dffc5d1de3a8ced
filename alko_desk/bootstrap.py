"""The one composition root: builds the database, repositories and services."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from alko_desk.models.company import CompanyProfile
from alko_desk.models.users import Session
from alko_desk.secrets import MONGODB_URI_KEY, SecretStore
from alko_desk.security.passwords import PRODUCTION_COST, HashCost, PasswordHasher
from alko_desk.services.audit import AuditLog, AuditService, HeadAnchor
from alko_desk.services.auth import AuthService
from alko_desk.services.changes import ChangeFeed, ChangeLog
from alko_desk.services.client_cards import ClientCardService
from alko_desk.services.clients import ClientService
from alko_desk.services.clock import Clock, SystemClock
from alko_desk.services.deal_calc import compute as compute_deal
from alko_desk.services.deals import DealService
from alko_desk.services.documents import DocumentService
from alko_desk.services.intents import IntentLog, Leases
from alko_desk.services.invoicing import (
    DealSource,
    InvoiceIndexer,
    InvoiceRecovery,
    InvoicingService,
)
from alko_desk.services.keyring import Keyring
from alko_desk.services.settings import ENTITY as SETTINGS_ENTITY
from alko_desk.services.settings import SettingsService
from alko_desk.services.setup import SetupService
from alko_desk.services.throttle import KEY_FILE as THROTTLE_KEY_FILE
from alko_desk.services.throttle import LoginThrottle, ThrottleKey
from alko_desk.services.users import UserAdminService
from alko_desk.services.vehicles import VehicleService
from alko_desk.storage.audit_repo import AuditRepository
from alko_desk.storage.changes_repo import ChangeRepository
from alko_desk.storage.clients_repo import (
    ClientKeyRepository,
    ClientListRepository,
    ClientRepository,
    LookupRepository,
)
from alko_desk.storage.deals_repo import DealRepository
from alko_desk.storage.embedded import EmbeddedServer
from alko_desk.storage.intents_repo import IntentRepository
from alko_desk.storage.invoices_repo import (
    InvoiceListRepository,
    InvoiceRepository,
    PaymentListRepository,
)
from alko_desk.storage.mongo import Store, connect
from alko_desk.storage.organisation_repo import OrganisationRepository
from alko_desk.storage.schema import ensure_schema
from alko_desk.storage.users_repo import LoginThrottleRepository, UserRepository
from alko_desk.storage.vehicles_repo import VehicleRepository

DEFAULT_DB_NAME = "alko_desk"
PROFILE_TTL = 30.0  # seconds a cached company profile is used (changes on other desks)


@dataclass(frozen=True)
class DatabaseChoice:
    uri: str | None  # None: the embedded default
    source: str  # "environment", "keyring", "embedded"

    @property
    def embedded(self) -> bool:
        return self.uri is None


def choose_database(secrets: SecretStore) -> DatabaseChoice:
    env = os.environ.get("ALKO_MONGODB_URI", "").strip()
    if env:
        return DatabaseChoice(env, "environment")
    saved = (secrets.get(MONGODB_URI_KEY) or "").strip()
    if saved:
        return DatabaseChoice(saved, "keyring")
    return DatabaseChoice(None, "embedded")


def describe_uri(uri: str) -> str:
    """The URI without credentials, for the status bar and messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}"


def uri_address(uri: str) -> str:
    """host:port (or the hosts of a replica set) of a MongoDB URI, never its username or
    password: what the login window names as the database the desk works on."""
    from urllib.parse import urlsplit

    netloc = urlsplit(uri).netloc.rpartition("@")[2]
    return netloc or "?"


@dataclass
class SessionServices:
    session: Session
    users: UserAdminService
    settings: SettingsService
    audit: AuditService
    clients: ClientService
    extra: dict = field(default_factory=dict)
    client_cards: ClientCardService | None = None
    vehicles: VehicleService | None = None
    deals: DealService | None = None
    invoices: InvoicingService | None = None
    changes: ChangeFeed | None = None  # what changed, for open screens (head() / since())
    documents: DocumentService | None = None  # clients' ID documents (issue 11)


class AppContext:
    """Everything the app needs once the database is open."""

    def __init__(
        self,
        store: Store,
        *,
        data_dir: Path,
        clock: Clock | None = None,
        server: EmbeddedServer | None = None,
        database_label: str = "",
        secrets: SecretStore | None = None,
        password_cost: HashCost = PRODUCTION_COST,
        database_address: str = "",
    ) -> None:
        self.store = store
        self.data_dir = data_dir
        self.clock = clock or SystemClock()
        self.server = server
        self.secrets = secrets
        self.database_label = database_label or store.info.label
        # host:port of a configured database (ALKO_MONGODB_URI or Settings); "" = embedded
        self.database_address = database_address
        self.users_repo = UserRepository(store)
        self.throttle_repo = LoginThrottleRepository(store)
        self.organisation_repo = OrganisationRepository(store)
        self.audit_log = AuditLog(
            AuditRepository(store),
            self.clock,
            HeadAnchor(data_dir / "audit-anchor.json", scope=f"{store.db.name}"),
        )
        # one failed-login count per account for login, idle unlock and re-confirmation, under
        # a MAC whose key is kept in the data folder (services/throttle.py)
        self.login_throttle = LoginThrottle(
            self.throttle_repo,
            self.organisation_repo,
            self.clock,
            ThrottleKey(data_dir / THROTTLE_KEY_FILE, scope=self._throttle_scope),
            self.audit_log,
        )
        # Argon2id at the production cost unless a test hands a cheaper one in.
        self.hasher = PasswordHasher(password_cost)
        # who holds which client-data key; grants them between sessions (services/keyring.py)
        self.keyring = Keyring(self.users_repo, self.organisation_repo, self.audit_log)
        self.auth = AuthService(
            self.users_repo,
            self.login_throttle,
            self.organisation_repo,
            self.audit_log,
            self.clock,
            self.hasher,
            keyring=self.keyring,
        )
        self.clients_repo = ClientRepository(store)
        self.client_keys_repo = ClientKeyRepository(store)
        self.lookups_repo = LookupRepository(store)
        self.client_list_repo = ClientListRepository(store)
        self.pending_repo = IntentRepository(store)
        # this desk run and the multi-document writes it has under way: recovery at a login
        # leaves those, and other desks' while their leases are fresh (services/intents.py)
        self.leases = Leases()
        self.change_log = ChangeLog(ChangeRepository(store), self.clock)
        # The company profile as services are built with it: read again after PROFILE_TTL
        # seconds, or at once when this process announces a settings change.
        self._profile_cache: tuple[float, CompanyProfile] | None = None
        self.change_log.listen(SETTINGS_ENTITY, self.settings_changed)
        self.vehicles_repo = VehicleRepository(store)
        self.deals_repo = DealRepository(store, compute_deal)
        self.setup = SetupService(
            self.organisation_repo,
            self.users_repo,
            self.audit_log,
            self.clock,
            self.hasher,
            throttle=self.login_throttle,
        )
        self.document_store_override = None  # tests and benchmarks: a store of their own
        self.document_upload_timeout = 15.0  # seconds before an upload waits in the outbox
        self.invoices_repo = InvoiceRepository(store)
        self.invoice_list_repo = InvoiceListRepository(store)
        self.payment_list_repo = PaymentListRepository(store)
        # None: each session's own DealInvoiceSource (services_for); tests may set one
        self.deal_source: DealSource | None = None

    def services_for(self, session: Session) -> SessionServices:
        # One intent log per session: every service registers its kinds' recovery handlers.
        # Not a service itself: it never goes on SessionServices, which the server exposes.
        intents = IntentLog(self.pending_repo, self.clock, self.leases)
        services = self._core_services_for(session, intents)
        services.vehicles = VehicleService(
            self.vehicles_repo,
            self.audit_log,
            self.clock,
            session,
            currency=self._currency(),
            changes=self.change_log,
            intents=intents,
        )
        services.deals = DealService(
            self.deals_repo,
            self.vehicles_repo,
            self.organisation_repo,
            self.audit_log,
            self.clock,
            session,
            changes=self.change_log,
            intents=intents,
            clients=self.clients_repo,  # a deal's buyer must exist and not be restricted
            customers=services.clients,  # an invoiced buyer becomes a customer
        )
        services.documents = self.documents_for(session, services.clients)
        self._invoice_from_deals(services)
        return services

    def _invoice_from_deals(self, services: SessionServices) -> None:
        """Invoices issue from this session's deals; the client's address is read through
        its ClientService (the caller's permission, audited as a client read)."""
        from alko_desk.services.deal_invoicing import DealInvoiceSource

        invoices = services.invoices
        source = self.deal_source or DealInvoiceSource(
            services.deals, services.clients, invoices.new_draft, self.clock
        )
        invoices.use_deals(source)

    def _currency(self) -> str:
        profile = self._profile()
        return profile.currency if profile else "EUR"

    def _profile(self) -> CompanyProfile | None:
        """The company profile, cached: every `services_for` and every keystroke of a phone
        number asks (a desk that has not been set up yet reads it each time)."""
        now = time.monotonic()
        cached = self._profile_cache
        if cached is not None and now - cached[0] <= PROFILE_TTL:
            return cached[1]
        profile = self.organisation_repo.profile()
        self._profile_cache = (now, profile) if profile else None
        return profile

    def settings_changed(self, _seq: int = 0) -> None:
        """The company profile changed: the next service built reads it again."""
        self._profile_cache = None

    def documents_for(self, session: Session, clients: ClientService) -> DocumentService:
        """ID documents: sealed with the client's key, fetched through ClientService's check."""
        from alko_desk.storage.document_outbox import DocumentOutbox
        from alko_desk.storage.documents_repo import DocumentRepository, DocumentSettingsRepository

        return DocumentService(
            DocumentRepository(self.store),
            DocumentSettingsRepository(self.store),
            DocumentOutbox(self.data_dir / "documents-outbox"),
            self.audit_log,
            self.clock,
            session,
            client_key=clients.data_key_for_documents,
            document_key=clients.id_document_key,
            default_folder=self.data_dir / "documents",
            store_override=self.document_store_override,
            upload_timeout=self.document_upload_timeout,
        )

    def _core_services_for(self, session: Session, intents: IntentLog) -> SessionServices:
        services = SessionServices(
            session=session,
            users=UserAdminService(
                self.users_repo,
                self.login_throttle,
                self.organisation_repo,
                self.audit_log,
                self.clock,
                session,
                self.hasher,
                changes=self.change_log,
            ),
            settings=SettingsService(
                self.organisation_repo, self.audit_log, self.clock, session, self.change_log
            ),
            audit=AuditService(self.audit_log, session),
            clients=ClientService(
                self.clients_repo,
                self.client_keys_repo,
                self.lookups_repo,
                self.client_list_repo,
                intents,
                self.change_log,
                self.audit_log,
                self.clock,
                session,
                phone_region=self._phone_region,
                keyring=self.keyring,
            ),
            client_cards=ClientCardService(session, self.audit_log, self.clock),
            invoices=InvoicingService(
                self.invoices_repo,
                self.organisation_repo,
                self.audit_log,
                self.clock,
                session,
                self.deal_source,
                changes=self.change_log,
                invoice_list=self.invoice_list_repo,
                payment_list=self.payment_list_repo,
                leases=self.leases,
            ),
            changes=ChangeFeed(self.change_log, session),
        )
        return services

    def _phone_region(self) -> str:
        profile = self._profile()
        return profile.phone_region if profile else "HR"

    def _throttle_scope(self) -> str:
        """The database and the organisation set up in it ("" before setup)."""
        org = self.organisation_repo.get()
        return f"{self.store.db.name}:{org.get('org_id', '')}" if org else ""

    def finish_interrupted_work(self, session: Session) -> int:
        """Completes registrations and edits a crash left half-done (needs a session's keys).

        Never stops a login: a failure here is logged and tried again at the next one.
        """
        try:  # stock imports that a crash interrupted are undone
            self.services_for(session).vehicles.recover_imports()
        except Exception:
            logging.getLogger(__name__).exception("finishing interrupted stock work failed")
        done = self.finish_interrupted_invoices(session)
        try:
            return done + self.services_for(session).clients.recover_pending()
        except Exception:
            logging.getLogger(__name__).exception("finishing interrupted work failed")
            return done

    def finish_interrupted_invoices(self, session: Session | None = None) -> int:
        """Invoices a crash left after their number was taken: PDF, hash, links (invoicing.py).

        Those of deals are finished only with a session that may invoice deals (finance):
        the deal's side goes through that session's deal service.
        """
        from alko_desk.models.users import Permission

        try:
            if session is not None and session.can(Permission.INVOICE_WRITE):
                return self.services_for(session).invoices.finish_interrupted()
            indexer = InvoiceIndexer(
                self.invoices_repo, self.invoice_list_repo, self.payment_list_repo
            )
            return InvoiceRecovery(
                self.invoices_repo,
                self.audit_log,
                self.deal_source,
                indexer,
                clock=self.clock,
                leases=self.leases,
            ).run()
        except Exception:
            logging.getLogger(__name__).exception("finishing interrupted invoices failed")
            return 0

    def list_unlisted_invoices(self) -> int:
        """A start-up step: invoices issued before their list index existed are listed once
        (so that no list read, and no login, writes). Returns how many were listed."""
        if self.invoice_list_repo.count() or self.invoices_repo.first() is None:
            return 0
        indexer = InvoiceIndexer(self.invoices_repo, self.invoice_list_repo, self.payment_list_repo)
        numbers = self.invoices_repo.numbers()
        for number in numbers:
            indexer.put(number)
        return len(numbers)

    def about_info(self) -> dict[str, str]:
        """Versions for the About dialog (the UI never imports pymongo itself)."""
        import pymongo

        from alko_desk import __version__

        return {
            "app": __version__,
            "pymongo": pymongo.version,
            "database_server": self.store.info.label,
            "database": self.database_label,
        }

    def close(self) -> None:
        try:
            self.store.db.client.close()
        finally:
            if self.server:
                self.server.stop()


def open_context(
    data_dir: Path,
    secrets: SecretStore | None = None,
    *,
    db_name: str | None = None,
    clock: Clock | None = None,
) -> AppContext:
    """Connects (starting the embedded server when no URI is configured) and prepares the schema.

    Slow (up to seconds): the GUI calls it from a worker thread.
    """
    secrets = secrets or SecretStore()
    choice = choose_database(secrets)
    server = None
    if choice.embedded:
        server = EmbeddedServer(data_dir / "database")
        uri = server.start()
        label = "Embedded FerretDB 1.24.2 (this computer)"
    else:
        uri = choice.uri
        label = describe_uri(uri)
    try:
        client = connect(uri)
        store = Store.open(client, db_name or os.environ.get("ALKO_DB_NAME", DEFAULT_DB_NAME))
        ensure_schema(store)
    except Exception:
        if server:
            server.stop()
        raise
    if not choice.embedded:
        label = f"{store.info.label} at {label}"
    context = AppContext(
        store,
        data_dir=data_dir,
        clock=clock,
        server=server,
        database_label=label,
        secrets=secrets,
        database_address="" if choice.embedded else uri_address(uri),
    )
    try:
        context.list_unlisted_invoices()
    except Exception:  # the lists stay as they were; the next start tries again
        logging.getLogger(__name__).exception("listing the invoices at start failed")
    return context
