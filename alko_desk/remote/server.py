"""The showroom server: the service layer behind one generic RPC endpoint, over TLS.

    POST /v1/login                 {username, password} -> {token, user, ...}
    POST /v1/call/{service}/{method}  {args, kwargs} -> result | domain error
    POST /v1/confirm, /v1/change-password, /v1/logout
    GET  /v1/events?since=N        change announcements pushed as Server-Sent Events
    GET  /v1/describe              the services and methods this session may call
    GET  /v1/trust, POST /v1/enrol  the signing key; enrolment-code proof

Bodies are `alko_desk.remote.codec` envelopes. Every call runs the same
`SessionServices` a desk builds in-process, on a server-side session found by a random
token; before each call the account is read again, and a disabled, demoted or reset
account loses its session at once. Binary results are streamed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import inspect
import itertools
import logging
import secrets
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from alko_desk.bootstrap import AppContext, SessionServices
from alko_desk.models.changes import ChangeBatch
from alko_desk.models.errors import AlkoError, AuthenticationError, ValidationError
from alko_desk.models.remote import SessionEnded
from alko_desk.models.users import Session
from alko_desk.remote import api, codec
from alko_desk.remote.feed import MemoryFeed, change_for, is_read
from alko_desk.remote.trust import ServerIdentity
from alko_desk.security.crypto import OrgKeys
from alko_desk.storage.users_repo import user_from_doc

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/vnd.alko-desk+json"
MAX_BODY = 16 * 1024 * 1024
STREAM_CHUNK = 64 * 1024
# An idle event stream looks at the change log and at the account this often (writes through
# the RPC wake it at once; this catches writes made outside it, and revoked sessions), and
# sends a comment line so that the desk knows the connection is alive.
EVENT_IDLE_SECONDS = 5.0
REAUTH_FAILURES = 5
# Argon2id takes 64 MiB a run: a few at once, not one per worker thread.
PASSWORD_CHECKS_AT_ONCE = 4
SWEEP_SECONDS = 30.0
INTERNAL_ERROR = AlkoError(
    "The server could not complete this request.",
    hint="Try again; if it keeps happening, an admin will find the details in the server's log.",
)


# ----------------------------------------------------------------------------- keys in memory


def wipe(value: object) -> None:
    """Overwrites key bytes we hold (best effort: CPython bytes and bytearrays).

    Called only on keys this server unwrapped or derived for one session, which nothing
    else shares, once that session is gone.
    """
    if isinstance(value, bytearray):
        value[:] = bytes(len(value))
    elif (
        type(value) is bytes
        and len(value) >= 16
        and sys.implementation.name == "cpython"
        and sys.getrefcount(value) <= 6  # only our own references: never an interned object
    ):
        offset = sys.getsizeof(b"") - 1
        ctypes.memset(id(value) + offset, 0, len(value))


def wipe_org_keys(keys: OrgKeys) -> None:
    for name in ("_wrap", "_blind", "_directory", "_mac"):
        wipe(getattr(keys, name, None))


# ----------------------------------------------------------------------------- the context


class ServerContext(AppContext):
    """The desk's composition root, plus what only the server has: the audit checkpointer.

    Nothing derived from a session's organisation key is cached across sessions (the list
    index's cache holds only sealed rows), so releasing a session only wipes its own keys."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.checkpointer = None  # set by remote.checkpoints.enable_checkpoints

    def services_for(self, session: Session) -> SessionServices:
        services = super().services_for(session)
        if self.checkpointer is not None:
            from alko_desk.remote.checkpoints import AuditCheckpointService

            services.extra["checkpoints"] = AuditCheckpointService(
                self.checkpointer, self.audit_log, session
            )
        return services

    def release(self, session: Session) -> None:
        """Nothing shared to release: the session's own keys are wiped where it ends."""


# ----------------------------------------------------------------------------- sessions


@dataclass
class ServerSession:
    token_hash: str
    session: Session
    services: SessionServices
    last_used: datetime
    password_stamp: str
    reauth_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _stamp(doc: dict) -> str:
    """Changes when the account's password hash changes (an admin reset, a change elsewhere)."""
    return hashlib.sha256(repr(doc.get("password")).encode()).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Backend:
    """Sessions and dispatch; synchronous, called from the ASGI app's worker threads."""

    def __init__(self, context: AppContext, identity: ServerIdentity | None = None) -> None:
        self.context = context
        self.identity = identity
        self.feed = MemoryFeed()
        self._sessions: dict[str, ServerSession] = {}
        self._idle_ended: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._idle_cache: tuple[float, timedelta] | None = None
        self._recovered = False
        self._password_slots = threading.BoundedSemaphore(PASSWORD_CHECKS_AT_ONCE)
        self._last_sweep = time.monotonic()

    # -- login and the session table -----------------------------------------------------
    def login(self, username: str, password: str) -> tuple[str, ServerSession]:
        if not isinstance(username, str) or not isinstance(password, str):
            raise AuthenticationError("Enter your username and password.")
        self.sweep()
        # Parallel guesses on one name each meet the count the earlier ones left: the
        # throttle counts an attempt before its check, in the database (services/throttle.py).
        with self._password_slots:
            session = self.context.auth.login(username, password)
        if not self._recovered:
            # Only this server writes, so what a crash left half-done is finished once, at the
            # first login after a start (it needs a session's keys), not at every login.
            self._recovered = True
            self.context.finish_interrupted_work(session)
        doc = self.context.users_repo.get_doc(session.user.username) or {}
        token = secrets.token_urlsafe(32)
        entry = ServerSession(
            token_hash=_token_hash(token),
            session=session,
            services=self.context.services_for(session),
            last_used=self.context.clock.now(),
            password_stamp=_stamp(doc),
        )
        with self._lock:
            self._sessions[entry.token_hash] = entry
        return token, entry

    def idle_limit(self) -> timedelta:
        """The desk lock's idle time (organisation settings), read at most every 30 s."""
        now = time.monotonic()
        if self._idle_cache is None or now - self._idle_cache[0] > 30:
            profile = self.context.organisation_repo.profile()
            minutes = profile.idle_lock_minutes if profile else 5
            self._idle_cache = (now, timedelta(minutes=max(1, minutes)))
        return self._idle_cache[1]

    def authorize(self, token: str | None, *, touch: bool = True) -> ServerSession:
        """The live session of `token`, after checking idle time and the account as it is now."""
        with self._lock:
            entry = self._sessions.get(_token_hash(token)) if token else None
        if entry is None:
            if token and _token_hash(token) in self._idle_ended:
                raise SessionEnded(_ENDED_TEXT["idle"], "idle")
            raise SessionEnded("You are not logged in to the server (or it was restarted).")
        now = self.context.clock.now()
        if now - entry.last_used > self.idle_limit():
            self.end(entry, "idle")
            raise SessionEnded(_ENDED_TEXT["idle"], "idle")
        name = entry.session.user.username
        doc = self.context.users_repo.get_doc(name)
        reason = None
        if doc is None or not doc.get("active", True):
            reason = "disabled"
        elif doc.get("role") != entry.session.user.role.value:
            reason = "role_changed"
        elif _stamp(doc) != entry.password_stamp:
            reason = "password_reset"
        if reason:
            self.end(entry, reason)
            raise SessionEnded(_ENDED_TEXT[reason], reason)
        entry.session.user = user_from_doc(doc)  # must_change_password and the rest as they are
        if touch:
            entry.last_used = now
        return entry

    def sweep(self, *, force: bool = False) -> int:
        """Ends sessions idle past the desk lock whose desks never came back (their keys go
        with them); at most every SWEEP_SECONDS unless forced."""
        now_mono = time.monotonic()
        if not force and now_mono - self._last_sweep < SWEEP_SECONDS:
            return 0
        self._last_sweep = now_mono
        limit, now = self.idle_limit(), self.context.clock.now()
        with self._lock:
            stale = [e for e in self._sessions.values() if now - e.last_used > limit]
        for entry in stale:
            self.end(entry, "idle")
        return len(stale)

    def end(self, entry: ServerSession, reason: str) -> None:
        """Drops the session and its keys; audits why unless the user logged out."""
        with self._lock:
            if self._sessions.pop(entry.token_hash, None) is None:
                return
            if reason == "idle":  # so that the unlock dialog can tell why (and log in again)
                self._idle_ended[entry.token_hash] = None
                while len(self._idle_ended) > 1000:
                    self._idle_ended.popitem(last=False)
        name = entry.session.user.username
        if reason == "logout":
            self.context.auth.logout(entry.session, "logout")
        else:
            try:
                self.context.audit_log.record(
                    "system",
                    "session.revoked",
                    f"user:{name}",
                    {"reason": reason, "session": entry.session.session_id},
                )
            except Exception:  # noqa: BLE001 - ending a session must work with the database gone
                log.warning("could not audit the end of a session")
        if isinstance(self.context, ServerContext):
            self.context.release(entry.session)
        for service in api.services_of(entry.services).values():
            keys = getattr(service, "_org", None)
            if isinstance(keys, OrgKeys):
                wipe_org_keys(keys)
        wipe(entry.session.org_key)
        entry.session.org_key = b""
        for key in entry.session.tier_keys.values():
            wipe(key)
        wipe(entry.session.account_private)
        self.context.keyring.forget(entry.session)
        entry.services = None  # type: ignore[assignment]

    def logout(self, token: str | None) -> None:
        with self._lock:
            entry = self._sessions.get(_token_hash(token)) if token else None
        if entry is not None:
            self.end(entry, "logout")

    def session_count(self) -> int:
        with self._lock:
            return len(self._sessions)

    # -- re-confirmation and password change ---------------------------------------------
    def confirm(self, token: str | None, password: str) -> ServerSession:
        entry = self.authorize(token)
        with entry.lock:
            try:
                with self._password_slots:
                    self.context.auth.confirm_password(entry.session, password)
            except AuthenticationError:
                entry.reauth_failures += 1
                if entry.reauth_failures >= REAUTH_FAILURES:
                    self.end(entry, "reauth_failures")
                    raise SessionEnded(_ENDED_TEXT["reauth_failures"], "reauth_failures") from None
                raise
            entry.reauth_failures = 0
        return entry

    def change_password(self, token: str | None, current: str, new: str) -> ServerSession:
        entry = self.authorize(token)
        with entry.lock:
            with self._password_slots:
                session = self.context.auth.change_password(entry.session, current, new)
            entry.session.user = session.user
            entry.session.authenticated_at = session.authenticated_at
            # leaving a temporary password gives the account a new key pair (services/keyring.py)
            entry.session.account_private = session.account_private
            entry.session.tier_keys.update(session.tier_keys)
            self.context.keyring.start(entry.session)
            doc = self.context.users_repo.get_doc(session.user.username) or {}
            entry.password_stamp = _stamp(doc)
        return entry

    # -- calls ---------------------------------------------------------------------------
    def call(self, token: str | None, service: str, method: str, args: list, kwargs: dict) -> Any:
        self.sweep()
        entry = self.authorize(token)
        services = entry.services
        if services is None:  # ended by another request a moment ago
            raise SessionEnded("Your session has ended.")
        try:
            fn = api.resolve(services, service, method)
        except LookupError:
            raise AlkoError(
                f"The server offers no “{service}.{method}”.",
                hint="This desk may be newer or older than the server; update both to the "
                "same version.",
            ) from None
        try:
            inspect.signature(fn).bind(*args, **kwargs)
        except TypeError:
            raise ValidationError(
                f"The server could not read the request for “{service}.{method}”.",
            ) from None
        result = fn(*args, **kwargs)
        if not is_read(method):
            if getattr(services, "changes", None) is None:
                self.feed.publish(*change_for(service, method, result))
            else:
                self.feed.notify()  # the service announced it in the change log: wake streams
        return result

    def describe(self, token: str | None) -> dict[str, list[str]]:
        return api.describe(self.authorize(token, touch=False).services)

    def platform_feed(self, entry: ServerSession):
        return getattr(entry.services, "changes", None)

    def change_source(self, entry: ServerSession):
        """What a session's event stream reads: the platform's change log, else the RPC's own."""
        return self.platform_feed(entry) or self.feed

    def close(self) -> None:
        with self._lock:
            entries = list(self._sessions.values())
        for entry in entries:
            self.end(entry, "server_stopped")


_ENDED_TEXT = {
    "idle": "You were logged out after a while without activity.",
    "disabled": "Your account was disabled, so the server ended your session.",
    "role_changed": "Your role was changed, so the server ended your session.",
    "password_reset": "Your password was changed or reset, so the server ended your session.",
    "reauth_failures": "Too many wrong passwords, so the server ended your session.",
}


# ----------------------------------------------------------------------------- the ASGI app


def _reply(value: Any, status: int = 200) -> Response:
    return Response(codec.dumps(value), status_code=status, media_type=MEDIA_TYPE)


def _error(exc: AlkoError) -> Response:
    status = 401 if isinstance(exc, SessionEnded | AuthenticationError) else 400
    return _reply({"error": exc}, status)


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


async def _body(request: Request) -> dict:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise ValidationError("The request is too large.")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise ValidationError("The request is too large.")
    value = codec.loads(bytes(raw)) if raw else {}
    if not isinstance(value, dict):
        raise ValidationError("The server could not read the request.")
    return value


def _guarded(handler, on_request=None):
    async def endpoint(request: Request) -> Response:
        if on_request is not None:
            on_request()
        try:
            return await handler(request)
        except AlkoError as exc:
            return _error(exc)
        except codec.CodecError as exc:
            log.warning("unreadable request to %s: %s", request.url.path, exc)
            return _error(ValidationError("The server could not read the request."))
        except Exception:  # noqa: BLE001 - the one place that turns the unexpected into a message
            log.exception("unexpected error in %s", request.url.path)
            return _reply({"error": INTERNAL_ERROR}, 500)

    return endpoint


def _is_stream(result: Any) -> bool:
    return inspect.isgenerator(result) or (
        isinstance(result, Iterator) and not isinstance(result, str | bytes)
    )


def _chunks(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), STREAM_CHUNK):
        yield bytes(view[start : start + STREAM_CHUNK])


def _batch_after(source, since: int) -> ChangeBatch:
    """The changes after `since` (one `_id` lookup when nothing is new); -1: none, the head."""
    head = source.head()
    if since < 0 or head == since:
        return ChangeBatch(head, (), True)
    return source.since(since)


def _event(name: str, value: Any) -> bytes:
    return f"event: {name}\ndata: ".encode() + codec.dumps(value) + b"\n\n"


def build_app(backend: Backend) -> Starlette:
    waiters: dict[str, Any] = {"event": None, "loop": None}

    def wake() -> None:
        loop = waiters["loop"]
        if loop is not None:
            loop.call_soon_threadsafe(_set_event)

    def _set_event() -> None:
        event, waiters["event"] = waiters["event"], asyncio.Event()
        if event is not None:
            event.set()

    backend.feed.add_listener(wake)

    def on_request() -> None:
        # The loop the event streams wait on; known from the first request (the app may run
        # without lifespan events, as in the tests' switchable server).
        if waiters["loop"] is None:
            waiters["event"] = asyncio.Event()
            waiters["loop"] = asyncio.get_running_loop()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            waiters["loop"] = None
            await run_in_threadpool(backend.close)

    def _session_view(token: str | None, entry: ServerSession) -> dict:
        return {
            "token": token,
            "user": entry.session.user,
            "authenticated_at": entry.session.authenticated_at,
            "session_id": entry.session.session_id,
            "idle_seconds": int(backend.idle_limit().total_seconds()),
            "services": api.describe(entry.services),
        }

    async def login(request: Request) -> Response:
        body = await _body(request)
        token, entry = await run_in_threadpool(
            backend.login, body.get("username"), body.get("password")
        )
        return _reply({"ok": _session_view(token, entry)})

    async def logout(request: Request) -> Response:
        await run_in_threadpool(backend.logout, _token(request))
        return _reply({"ok": None})

    async def confirm(request: Request) -> Response:
        body = await _body(request)
        entry = await run_in_threadpool(backend.confirm, _token(request), body.get("password"))
        return _reply({"ok": entry.session.authenticated_at})

    async def change_password(request: Request) -> Response:
        body = await _body(request)
        entry = await run_in_threadpool(
            backend.change_password, _token(request), body.get("current"), body.get("new")
        )
        return _reply({"ok": _session_view(None, entry)})

    async def call(request: Request) -> Response:
        body = await _body(request)
        args, kwargs = body.get("args", []), body.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ValidationError("The server could not read the request.")
        result = await run_in_threadpool(
            backend.call,
            _token(request),
            request.path_params["service"],
            request.path_params["method"],
            args,
            kwargs,
        )
        if isinstance(result, bytes | bytearray | memoryview):
            return StreamingResponse(
                iterate_in_threadpool(_chunks(bytes(result))),
                media_type="application/octet-stream",
                headers={"x-alko-result": "bytes", "x-alko-length": str(len(result))},
            )
        if _is_stream(result):
            # The first chunk is produced before answering, so that a refusal (a permission
            # check at the top of a generator) is still a domain error, not a broken stream.
            first = await run_in_threadpool(next, result, b"")
            return StreamingResponse(
                iterate_in_threadpool(itertools.chain([first], result)),
                media_type="application/octet-stream",
                headers={"x-alko-result": "bytes"},
            )
        return _reply({"ok": result})

    async def describe(request: Request) -> Response:
        return _reply({"ok": await run_in_threadpool(backend.describe, _token(request))})

    async def events(request: Request) -> Response:
        """Change announcements pushed to the desk (Server-Sent Events, one per message):
        `data:` is an envelope, `{"ok": ChangeBatch}` for changes after what the desk has
        (the first one at once, with the head), or `{"error": SessionEnded}` when the session
        ends, after which the stream closes. `since=-1` starts at the current head."""
        try:
            since = int(request.query_params.get("since", "-1"))
        except ValueError:
            raise ValidationError("since is a number.") from None
        token = _token(request)
        entry = await run_in_threadpool(backend.authorize, token, touch=False)
        source = backend.change_source(entry)
        # The wake-up is taken before each read, so a write between the read and the wait
        # still wakes the stream.
        event = waiters["event"]
        first = await run_in_threadpool(_batch_after, source, since)

        async def stream():
            nonlocal event
            seen = first.head
            loop = asyncio.get_running_loop()
            checked = loop.time()
            yield _event("changes", {"ok": first})
            while True:
                if event is None:
                    await asyncio.sleep(EVENT_IDLE_SECONDS)
                    woken = False
                else:
                    try:
                        await asyncio.wait_for(event.wait(), EVENT_IDLE_SECONDS)
                        woken = True
                    except TimeoutError:
                        woken = False
                if not woken or loop.time() - checked >= EVENT_IDLE_SECONDS:
                    # A busy showroom wakes the stream all the time: the account is still
                    # read again every few seconds, so a disabled one stops hearing.
                    checked = loop.time()
                    try:
                        await run_in_threadpool(backend.authorize, token, touch=False)
                    except SessionEnded as ended:
                        yield _event("ended", {"error": ended})
                        return
                if not woken:
                    yield b": alive\n\n"
                event = waiters["event"]
                try:
                    batch = await run_in_threadpool(_batch_after, source, seen)
                except AlkoError as exc:
                    yield _event("ended", {"error": exc})
                    return
                if batch.changes or not batch.complete or batch.head != seen:
                    seen = batch.head
                    yield _event("changes", {"ok": batch})

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def trust(request: Request) -> Response:
        identity = backend.identity
        return _reply(
            {
                "ok": {
                    "fingerprint": identity.fingerprint() if identity else "",
                    "signing_key": identity.signing_public_key() if identity else "",
                }
            }
        )

    async def enrol(request: Request) -> Response:
        body = await _body(request)
        nonce = body.get("nonce")
        if not isinstance(nonce, str) or not 16 <= len(nonce) <= 128 or backend.identity is None:
            raise ValidationError("Enrolment is not open on this server.")
        if "confirmation" in body:
            ok = await run_in_threadpool(
                backend.identity.consume_enrolment, nonce, str(body["confirmation"])
            )
            return _reply({"ok": ok})
        proof = await run_in_threadpool(backend.identity.enrolment_proof, nonce)
        if proof is None:
            raise ValidationError(
                "Enrolment is not open on this server.",
            )
        return _reply({"ok": proof})

    async def health(request: Request) -> Response:
        return _reply({"ok": "ALKO Desk server"})

    routes = [
        Route("/v1/login", _guarded(login, on_request), methods=["POST"]),
        Route("/v1/logout", _guarded(logout, on_request), methods=["POST"]),
        Route("/v1/confirm", _guarded(confirm, on_request), methods=["POST"]),
        Route("/v1/change-password", _guarded(change_password, on_request), methods=["POST"]),
        Route("/v1/call/{service}/{method}", _guarded(call, on_request), methods=["POST"]),
        Route("/v1/describe", _guarded(describe, on_request), methods=["GET"]),
        Route("/v1/events", _guarded(events, on_request), methods=["GET"]),
        Route("/v1/trust", _guarded(trust, on_request), methods=["GET"]),
        Route("/v1/enrol", _guarded(enrol, on_request), methods=["POST"]),
        Route("/v1/health", _guarded(health, on_request), methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


# ----------------------------------------------------------------------------- running it


def uvicorn_config(app, identity: ServerIdentity, host: str, port: int, **options: Any):
    """uvicorn's settings for the server, without uvicorn's own log handlers.

    uvicorn logs an error that escapes a response ("Exception in ASGI application": a
    streamed result failing half-way, the event stream) with the exception's message, which
    may carry a client's data; its default handler writes that straight to stderr. Without
    it, uvicorn's records reach the process's handlers, which withhold messages
    (alko_desk/logsafe.py, set up by the command line)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_keyfile=str(identity.key_path),
        ssl_certfile=str(identity.cert_path),
        log_level="warning",
        access_log=False,
        log_config=None,
        **options,
    )
    for name in ("uvicorn", "uvicorn.error"):  # as an earlier uvicorn.Config may have left them
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return config


class RunningServer:
    """uvicorn on a background thread (tests, benchmarks); `serve()` runs in the foreground."""

    def __init__(self, backend: Backend, identity: ServerIdentity, host: str, port: int) -> None:
        import uvicorn

        self.backend = backend
        self.config = uvicorn_config(
            build_app(backend),
            identity,
            host,
            port,
            lifespan="on",
            timeout_keep_alive=30,
            # Desks hold an event stream open: stopping does not wait for them to hang up.
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        for server in getattr(self.server, "servers", []):
            for sock in server.sockets:
                return sock.getsockname()[1]
        return self.config.port

    def start(self) -> RunningServer:
        self._thread = threading.Thread(target=self.server.run, name="alko-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise AlkoError("The ALKO Desk server did not start.")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread:
            self._thread.join(timeout=10)


def open_server_context(data_dir, secrets=None) -> ServerContext:
    """`bootstrap.open_context`, with the server's context (shared client directories)."""
    from alko_desk.bootstrap import open_context

    ctx = open_context(data_dir, secrets)
    return ServerContext(
        ctx.store,
        data_dir=ctx.data_dir,
        clock=ctx.clock,
        server=ctx.server,
        database_label=ctx.database_label,
        secrets=ctx.secrets,
    )
