"""One client interface for the GUI, with two transports.

    desk = LocalDesk(context)                       # a single desk on its own database
    desk = RemoteDesk("showroom:7443", pins=...)   # a desk of a showroom server
    services = desk.login("sam", password)
    services.clients.page(0, 100)                   # same shape as SessionServices
    services.confirm_password(password); services.change_password(old, new)
    services.changes.head(); services.changes.since(n)  # pushed by the server (remote/push.py)
    services.wait_for_changes(since=0, wait=20); services.logout()

The remote proxies are generated from the service classes (their public methods and
signatures); nothing is written per method.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from alko_desk.bootstrap import AppContext, SessionServices
from alko_desk.models.changes import ChangeBatch
from alko_desk.models.errors import AlkoError
from alko_desk.models.listing import Progress
from alko_desk.models.remote import ServerUnavailable, ServerUntrusted, SessionEnded
from alko_desk.models.users import Session
from alko_desk.remote import api, codec
from alko_desk.remote.push import PushedChangeFeed, StreamClosed
from alko_desk.remote.trust import (
    Pin,
    PinStore,
    canonical_address,
    certificate_changed_message,
    enrolment_mac,
    fetch_certificate,
    fingerprint,
    parse_address,
    pinned_context,
    same_fingerprint,
)

MEDIA_TYPE = "application/vnd.alko-desk+json"


# ----------------------------------------------------------------------------- in-process


class LocalDesk:
    """Today's desk: the services run in this process on its own database."""

    def __init__(self, context: AppContext) -> None:
        self.context = context

    def login(self, username: str, password: str) -> LocalServices:
        session = self.context.auth.login(username, password)
        self.context.finish_interrupted_work(session)
        return LocalServices(self.context, session)

    def close(self) -> None:
        pass


class LocalServices:
    def __init__(self, context: AppContext, session: Session) -> None:
        self._context = context
        self._services = context.services_for(session)

    @property
    def session(self) -> Session:
        return self._services.session

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._services, name)

    def confirm_password(self, password: str) -> None:
        self._context.auth.confirm_password(self.session, password)

    def change_password(self, current: str, new: str) -> LocalServices:
        session = self._context.auth.change_password(self.session, current, new)
        self._services = self._context.services_for(session)
        return self

    def wait_for_changes(self, since: int = 0, wait: float = 0) -> ChangeBatch:
        """Changes after `since` (in-process: no waiting; the platform's feed when present)."""
        feed = getattr(self._services, "changes", None)
        return feed.since(since) if feed is not None else ChangeBatch(0, (), True)

    def logout(self) -> None:
        self._context.auth.logout(self.session, "logout")


# ----------------------------------------------------------------------------- remote


class _Transport:
    """httpx over TLS pinned to one certificate; envelopes in, values or domain errors out."""

    def __init__(self, address: str, der: bytes, timeout: float) -> None:
        host, port = parse_address(address)
        self.address = canonical_address(address)
        self._der = der
        netloc = f"[{host}]" if ":" in host else host
        self._http = httpx.Client(
            base_url=f"https://{netloc}:{port}",
            verify=pinned_context(der),
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
            headers={"user-agent": "alko-desk"},
        )

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None, **params
    ) -> Any:
        headers = {"content-type": MEDIA_TYPE}
        if token:
            headers["authorization"] = f"Bearer {token}"
        content = codec.dumps(body) if body is not None else None
        try:
            with self._http.stream(
                method, path, content=content, headers=headers, params=params or None
            ) as response:
                self._check_peer(response)
                if response.headers.get("x-alko-result") == "bytes":
                    data = bytearray()
                    for chunk in response.iter_bytes():
                        data += chunk
                    expected = response.headers.get("x-alko-length")
                    if expected is not None and int(expected) != len(data):
                        raise ServerUnavailable("The server's answer was cut off; try again.")
                    return bytes(data)
                raw = response.read()
        except httpx.TimeoutException:
            raise ServerUnavailable(
                f"The ALKO Desk server at {self.address} did not answer in time."
            ) from None
        except httpx.TransportError as exc:
            raise ServerUnavailable(
                f"The ALKO Desk server at {self.address} cannot be reached.",
                hint=f"Check the network and that the server is running. ({type(exc).__name__})",
            ) from None
        try:
            value = codec.loads(raw)
        except codec.CodecError:
            raise AlkoError(
                f"The server at {self.address} gave an answer this desk cannot read.",
                hint="The desk and the server may be different versions of ALKO Desk.",
            ) from None
        if not isinstance(value, dict) or not ({"ok", "error"} & value.keys()):
            raise AlkoError(f"The server at {self.address} gave an unexpected answer.")
        if "error" in value:
            error = value["error"]
            raise error if isinstance(error, AlkoError) else AlkoError(str(error))
        return value["ok"]

    def events(self, token: str, since: int) -> Iterator[tuple[str, Any]]:
        """The server's change stream: (event name, decoded envelope) as each event arrives.
        A refusal raises its domain error; a lost connection ServerUnavailable."""
        if self._http.is_closed:
            raise StreamClosed()
        headers = {"authorization": f"Bearer {token}", "accept": "text/event-stream"}
        # The server sends something every few seconds; much longer silence is a dead link.
        timeout = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)
        try:
            with self._http.stream(
                "GET", "/v1/events", headers=headers, params={"since": str(since)}, timeout=timeout
            ) as response:
                self._check_peer(response)
                if response.status_code != 200 or not response.headers.get(
                    "content-type", ""
                ).startswith("text/event-stream"):
                    value = codec.loads(response.read())
                    error = value.get("error") if isinstance(value, dict) else None
                    raise (
                        error
                        if isinstance(error, AlkoError)
                        else ServerUnavailable(
                            f"The server at {self.address} refused the change stream."
                        )
                    )
                name, data = "message", []
                for line in response.iter_lines():
                    if line.startswith(":"):
                        continue  # a keep-alive comment
                    if line == "":
                        if data:
                            yield name, codec.loads("\n".join(data).encode("utf-8"))
                        name, data = "message", []
                    elif line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip(" "))
        except httpx.TransportError:
            raise ServerUnavailable(
                f"The change stream from the ALKO Desk server at {self.address} was cut."
            ) from None

    def _check_peer(self, response: httpx.Response) -> None:
        """Belt and braces over the pinned context: the connection's certificate is the pin."""
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        if ssl_object is None:
            return
        der = ssl_object.getpeercert(True)
        if der != self._der:
            raise certificate_changed_message(
                self.address, fingerprint(self._der), fingerprint(der or b"")
            )

    def close(self) -> None:
        self._http.close()


class RemoteDesk:
    """A desk of a showroom server. The first connection to an address must be confirmed:
    `fingerprint` (typed from what `alko-desk server init` printed), `enrolment_code`, or
    `confirm(fingerprint) -> bool` (the GUI shows it and asks staff to compare). Then the
    certificate is pinned in the OS keyring; a different one later is refused."""

    def __init__(
        self,
        address: str,
        *,
        pins: PinStore,
        fingerprint: str | None = None,
        enrolment_code: str | None = None,
        confirm: Callable[[str], bool] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.address = canonical_address(address)
        der = fetch_certificate(address)
        seen = _fingerprint(der)
        pinned = pins.get(address)
        if pinned is not None:
            if not same_fingerprint(pinned.fingerprint, seen):
                raise certificate_changed_message(self.address, pinned.fingerprint, seen)
        elif fingerprint is not None:
            if not same_fingerprint(fingerprint, seen):
                raise ServerUntrusted(
                    f"The server at {self.address} presented a certificate with another "
                    "fingerprint than the one entered, so the desk did not connect.",
                    hint=f"Entered: {fingerprint}\nPresented: {seen}",
                )
        elif enrolment_code is None and not (confirm and confirm(seen)):
            raise ServerUntrusted(
                f"This desk does not know the server at {self.address} yet.",
                hint="Compare the certificate fingerprint with the one the server printed at "
                f"`alko-desk server init` and confirm it, or enter the enrolment code.\n{seen}",
            )
        self.fingerprint = seen
        self._transport = _Transport(address, der, timeout)
        try:
            if pinned is None:
                if enrolment_code is not None and fingerprint is None:
                    self._enrol(enrolment_code, seen)
                trust = self._transport.request("GET", "/v1/trust")
                pinned = Pin(seen, trust.get("signing_key", ""))
                pins.set(address, pinned)
        except Exception:
            self._transport.close()
            raise
        self.pin = pinned
        self._pins = pins

    def _enrol(self, code: str, seen: str) -> None:
        nonce = os.urandom(16).hex()
        trust = self._transport.request("GET", "/v1/trust")
        try:
            proof = self._transport.request("POST", "/v1/enrol", {"nonce": nonce})
        except AlkoError:
            proof = ""
        expected = enrolment_mac(code, nonce, seen, trust.get("signing_key", ""))
        if not isinstance(proof, str) or not _equal(proof, expected):
            raise ServerUntrusted(
                f"The enrolment code does not match the server at {self.address}, so the desk "
                "did not connect.",
                hint="Check the code (it works once, for 24 hours) or ask the admin for a new "
                "one: `alko-desk server enrol`.",
            )
        self._transport.request(
            "POST",
            "/v1/enrol",
            {"nonce": nonce, "confirmation": enrolment_mac(code, "done:" + nonce, "", "")},
        )

    def login(self, username: str, password: str) -> RemoteServices:
        view = self._transport.request(
            "POST", "/v1/login", {"username": username, "password": password}
        )
        services = RemoteServices(self._transport, view)
        services._checkpoints = _CheckpointMemory(self._pins, self.address, self.pin.signing_key)
        services._checkpoints.see(services)
        return services

    def close(self) -> None:
        self._transport.close()


class _CheckpointMemory:
    """The newest signed audit checkpoint this desk has seen, kept in its keyring (outside the
    database), so that a rolled-back server is caught by the desks that saw more."""

    def __init__(self, pins: PinStore, address: str, signing_key: str) -> None:
        self._pins = pins
        self._address = address
        self._key = signing_key

    def known(self):
        from alko_desk.remote.checkpoints import _from_json

        text = self._pins.checkpoint(self._address)
        cp = _from_json(text) if text else None
        return cp if cp and self._valid(cp) else None

    def _valid(self, cp) -> bool:
        from alko_desk.security.checkpoints import signature_valid

        return bool(self._key) and signature_valid(self._key, cp)

    def see(self, services: RemoteServices) -> None:
        from alko_desk.remote.checkpoints import _to_json

        proxy = services.extra.get("checkpoints")
        if proxy is None or not self._key:
            return
        try:
            newest = proxy.newest()
        except AlkoError:
            return
        known = self.known()
        if newest is not None and self._valid(newest) and (known is None or newest.seq > known.seq):
            self._pins.keep_checkpoint(self._address, _to_json(newest))


def _fingerprint(der: bytes) -> str:
    return fingerprint(der)


def _equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


class RemoteServices:
    """The SessionServices of a server-side session: an attribute per service, same methods."""

    def __init__(self, transport: _Transport, view: dict) -> None:
        self._transport = transport
        self._token: str = view["token"]
        self.session = Session(
            user=view["user"],
            org_key=b"",  # the organisation key never leaves the server
            authenticated_at=view["authenticated_at"],
            session_id=view["session_id"],
        )
        self.idle_seconds: int = view.get("idle_seconds", 300)
        known = api.service_classes(SessionServices)
        self.extra: dict[str, Any] = {}
        for name, methods in view.get("services", {}).items():
            cls = known.get(name)
            proxy = proxy_class(cls)(self, name) if cls else _GenericProxy(self, name, methods)
            if cls:
                setattr(self, name, proxy)
            else:
                self.extra[name] = proxy
        self._push: PushedChangeFeed | None = None
        if getattr(self, "changes", None) is not None:
            # The watcher's feed, fed by the server's push stream (the RPC one as fallback).
            self._push = PushedChangeFeed(transport.events, lambda: self._token, self.changes)
            self.changes = self._push

    def _call(self, service: str, method: str, args: list, kwargs: dict) -> Any:
        return self._transport.request(
            "POST",
            f"/v1/call/{service}/{method}",
            {"args": args, "kwargs": kwargs},
            token=self._token,
        )

    def confirm_password(self, password: str) -> None:
        try:
            at = self._transport.request(
                "POST", "/v1/confirm", {"password": password}, token=self._token
            )
        except SessionEnded as ended:
            if ended.reason != "idle":
                raise
            # The desk lock and the server's idle expiry are the same time: unlocking an
            # idle desk logs in again with the password just typed.
            view = self._transport.request(
                "POST",
                "/v1/login",
                {"username": self.session.user.username, "password": password},
            )
            self._token = view["token"]
            self.session.user = view["user"]
            at = view["authenticated_at"]
        self.session.authenticated_at = at

    def change_password(self, current: str, new: str) -> RemoteServices:
        view = self._transport.request(
            "POST", "/v1/change-password", {"current": current, "new": new}, token=self._token
        )
        self.session.user = view["user"]
        self.session.authenticated_at = view["authenticated_at"]
        return self

    def wait_for_changes(self, since: int = 0, wait: float = 0) -> ChangeBatch:
        """Changes after `since`, waiting up to `wait` seconds for the server to push one."""
        if self._push is None:
            return ChangeBatch(0, (), True)
        return self._push.wait(since, wait)

    def verify_audit(self):
        """The audit chain, verified by the server against its signed checkpoints and the
        newest one this desk kept."""
        proxy = self.extra.get("checkpoints")
        if proxy is None:
            return self.audit.verify()
        memory = getattr(self, "_checkpoints", None)
        if memory is not None:
            memory.see(self)
        return proxy.verify(memory.known() if memory is not None else None)

    def logout(self) -> None:
        if self._push is not None:
            self._push.close()
        try:
            self._transport.request("POST", "/v1/logout", token=self._token)
        except ServerUnavailable:
            pass  # the server ends idle sessions itself
        self._token = ""


class _ServiceProxy:
    def __init__(self, owner: RemoteServices, name: str) -> None:
        self._owner = owner
        self._name = name

    def __repr__(self) -> str:
        return f"<remote service {self._name}>"


def is_remote(service: Any) -> bool:
    """True for a service that runs on a showroom server (its state lives there, not here)."""
    return isinstance(service, _ServiceProxy)


class _GenericProxy(_ServiceProxy):
    """A service the desk has no class for (a newer server): methods as the server lists them."""

    def __init__(self, owner: RemoteServices, name: str, methods: list[str]) -> None:
        super().__init__(owner, name)
        self._methods = frozenset(methods)

    def __getattr__(self, method: str) -> Callable:
        if method.startswith("_") or method not in self._methods:
            raise AttributeError(method)
        return lambda *args, **kwargs: self._owner._call(
            self._name, method, list(args), _sendable(kwargs)
        )


@functools.cache
def proxy_class(cls: type) -> type:
    """A class with the public methods of service class `cls`, each calling the server."""
    namespace: dict[str, Any] = {"__doc__": f"Remote proxy of {cls.__qualname__}."}
    for method in sorted(api.public_methods(cls)):
        namespace[method] = _remote_method(cls, method)
    return type(f"Remote{cls.__name__}", (_ServiceProxy,), namespace)


def _remote_method(cls: type, method: str) -> Callable:
    signature = api.signature_of(cls, method)

    def call(self: _ServiceProxy, *args: Any, **kwargs: Any) -> Any:
        send_args, send_kwargs = _split(signature, self, args, kwargs)
        return self._owner._call(self._name, method, send_args, send_kwargs)

    original = getattr(cls, method)
    call.__name__ = method
    call.__qualname__ = f"Remote{cls.__name__}.{method}"
    call.__doc__ = original.__doc__
    if signature is not None:
        call.__signature__ = signature  # type: ignore[attr-defined]
    return call


def _local_only(name: str, value: Any) -> bool:
    return name in api.LOCAL_ONLY_ARGUMENTS or callable(value) or isinstance(value, Progress)


def _sendable(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if not _local_only(k, v)}


def _split(
    signature: inspect.Signature | None, proxy: Any, args: tuple, kwargs: dict
) -> tuple[list, dict]:
    """Checks the call against the method's signature here (a TypeError, as in-process) and
    keeps progress callbacks on the desk."""
    if signature is None:
        return list(args), _sendable(kwargs)
    bound = signature.bind(proxy, *args, **kwargs)
    send_args: list = []
    send_kwargs: dict = {}
    params = signature.parameters
    for i, (name, value) in enumerate(bound.arguments.items()):
        if i == 0:
            continue  # self
        kind = params[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            send_args.extend(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            send_kwargs.update(_sendable(value))
        elif kind is inspect.Parameter.POSITIONAL_ONLY:
            send_args.append(value)
        elif not _local_only(name, value):
            send_kwargs[name] = value
    return send_args, send_kwargs


class _RemoteAuth:
    """`AppContext.auth` for a remote desk: the same calls, each on the server-side session."""

    def __init__(self, context: RemoteContext) -> None:
        self._context = context

    def login(self, username: str, password: str) -> Session:
        services = self._context.desk.login(username, password)
        self._context._sessions[services.session.session_id] = services
        return services.session

    def _services(self, session: Session) -> RemoteServices:
        try:
            return self._context._sessions[session.session_id]
        except KeyError:
            raise SessionEnded("You are not logged in to the server.") from None

    def confirm_password(self, session: Session, password: str) -> None:
        self._services(session).confirm_password(password)

    def change_password(self, session: Session, current: str, new: str) -> Session:
        return self._services(session).change_password(current, new).session

    def logout(self, session: Session, reason: str = "logout") -> None:
        services = self._context._sessions.pop(session.session_id, None)
        if services is not None:
            services.logout()


class _RemoteSetup:
    def is_set_up(self) -> bool:
        return True  # the server refuses to start on a database that is not set up


class RemoteContext:
    """What the desk's windows need of an `AppContext` (login, services per session, a label,
    the About facts, a clock), on a desk of a showroom server: no database, no keys. The
    DeskController takes it from its opener as it takes an AppContext."""

    def __init__(self, desk: RemoteDesk, clock=None, secrets=None) -> None:
        from alko_desk.services.clock import SystemClock

        self.desk = desk
        self.clock = clock or SystemClock()
        self.secrets = secrets
        self.server = None
        self.database_label = f"ALKO Desk server at {desk.address}"
        self.auth = _RemoteAuth(self)
        self.setup = _RemoteSetup()
        self._sessions: dict[str, RemoteServices] = {}

    def services_for(self, session: Session) -> RemoteServices:
        return self.auth._services(session)

    def finish_interrupted_work(self, session: Session) -> int:
        return 0  # the server does this

    def about_info(self) -> dict[str, str]:
        from alko_desk import __version__

        return {
            "app": __version__,
            "pymongo": "not used on this desk",
            "database_server": "ALKO Desk server",
            "database": self.desk.address,
        }

    def close(self) -> None:
        for services in list(self._sessions.values()):
            services.logout()
        self._sessions.clear()
        self.desk.close()


def open_remote_context(address: str, secrets) -> RemoteContext:
    """The desk's context when it works through a showroom server (ALKO_SERVER): the server
    must have been enrolled on this computer (its certificate pinned in the keyring)."""
    from alko_desk.remote.trust import PinStore

    if secrets is None or not getattr(secrets, "available", True):
        raise ServerUntrusted(
            "This computer has no secure keyring, so it cannot remember which server to trust."
        )
    pins = PinStore(secrets)
    if pins.get(address) is None:
        raise ServerUntrusted(
            f"This desk has not been enrolled with the ALKO Desk server at {address}.",
            hint=f"Run: alko-desk server trust {address} --fingerprint … (the fingerprint the "
            "server printed), then open ALKO Desk again.",
        )
    return RemoteContext(RemoteDesk(address, pins=pins), secrets=secrets)
