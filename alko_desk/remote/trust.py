"""The server's identity (TLS key and certificate, Ed25519 signing key, enrolment codes) and
the desks' pins of it.

`alko-desk server init` writes the identity into a folder only the server's OS user can
read (0700, files 0600). A desk pins the certificate's SHA-256 fingerprint, and the
signing key's public half, in the OS keyring under the server's address; a certificate
that differs later is refused.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from alko_desk.models.errors import AlkoError
from alko_desk.models.remote import ServerUnavailable, ServerUntrusted

TLS_KEY = "tls-key.pem"
TLS_CERT = "tls-cert.pem"
SIGNING_KEY = "signing-key.pem"
ENROLMENT = "enrolment.json"
ENROLMENT_LIFETIME = dt.timedelta(hours=24)
CERT_YEARS = 10
DEFAULT_PORT = 7443
PIN_PREFIX = "server-pin:"
CHECKPOINT_PREFIX = "audit-checkpoint:"
CHOSEN_SERVER_KEY = "server-chosen"  # the server the login window connected to last


# ----------------------------------------------------------------------------- fingerprints


def fingerprint(der: bytes) -> str:
    """SHA-256 of the certificate, as browsers show it: 32 hex pairs joined by colons."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def same_fingerprint(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch in "0123456789abcdef")

    return len(norm(a)) == 64 and hmac.compare_digest(norm(a), norm(b))


def parse_address(address: str) -> tuple[str, int]:
    """Host, host:port or [v6]:port; the port defaults to DEFAULT_PORT."""
    text = address.strip()
    if text.startswith("https://"):
        text = text[len("https://") :]
    text = text.rstrip("/")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    if not host:
        raise AlkoError("Enter the server's address, for example showroom-server:7443.")
    try:
        return host, int(port) if port else DEFAULT_PORT
    except ValueError:
        raise AlkoError(f"“{address}” is not a server address (host:port).") from None


def canonical_address(address: str) -> str:
    host, port = parse_address(address)
    return f"[{host}]:{port}" if ":" in host else f"{host.lower()}:{port}"


# ----------------------------------------------------------------------------- server side


def _private_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


@dataclass(frozen=True)
class ServerIdentity:
    folder: Path

    @property
    def cert_path(self) -> Path:
        return self.folder / TLS_CERT

    @property
    def key_path(self) -> Path:
        return self.folder / TLS_KEY

    def exists(self) -> bool:
        return all((self.folder / n).exists() for n in (TLS_KEY, TLS_CERT, SIGNING_KEY))

    def certificate_der(self) -> bytes:
        cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        return cert.public_bytes(serialization.Encoding.DER)

    def fingerprint(self) -> str:
        return fingerprint(self.certificate_der())

    def signing_key(self) -> ed25519.Ed25519PrivateKey:
        key = serialization.load_pem_private_key(
            (self.folder / SIGNING_KEY).read_bytes(), password=None
        )
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise AlkoError("The server's signing key is not an Ed25519 key.")
        return key

    def signing_public_key(self) -> str:
        raw = (
            self.signing_key()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        return base64.b64encode(raw).decode("ascii")

    def check_private(self) -> None:
        """Refuses to serve from a folder other OS users can read."""
        for path in (self.folder, *(self.folder / n for n in (TLS_KEY, SIGNING_KEY, ENROLMENT))):
            if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
                raise AlkoError(
                    f"{path} can be read by other users of this computer.",
                    hint=f"Run: chmod 700 {self.folder} && chmod 600 {self.folder}/*",
                )

    # -- enrolment codes -----------------------------------------------------------------
    def new_enrolment_code(self, now: dt.datetime | None = None) -> str:
        """A one-time code (80 bits) a desk may enter instead of comparing the fingerprint."""
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        raw = "".join(secrets.choice(alphabet) for _ in range(16))
        now = now or dt.datetime.now(dt.UTC)
        _write_private(
            self.folder / ENROLMENT,
            json.dumps({"code": raw, "expires": (now + ENROLMENT_LIFETIME).isoformat()}).encode(),
        )
        return "-".join(raw[i : i + 4] for i in range(0, 16, 4))

    def _enrolment_code(self) -> str | None:
        path = self.folder / ENROLMENT
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if dt.datetime.fromisoformat(data["expires"]) < dt.datetime.now(dt.UTC):
            return None
        return data["code"]

    def enrolment_proof(self, nonce: str) -> str | None:
        """Proves to a desk holding the code that this server, with this certificate, is the one
        the code came from. None when no code is open."""
        code = self._enrolment_code()
        if code is None:
            return None
        return enrolment_mac(code, nonce, self.fingerprint(), self.signing_public_key())

    def consume_enrolment(self, nonce: str, confirmation: str) -> bool:
        code = self._enrolment_code()
        if code is None or not hmac.compare_digest(
            confirmation, enrolment_mac(code, "done:" + nonce, "", "")
        ):
            return False
        (self.folder / ENROLMENT).unlink(missing_ok=True)
        return True


def enrolment_mac(code: str, nonce: str, fp: str, signing_key: str) -> str:
    key = "".join(ch for ch in code.upper() if ch.isalnum()).encode()
    msg = f"alko-desk-enrolment/v1\x1f{nonce}\x1f{fp.upper()}\x1f{signing_key}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def init_identity(folder: Path, hosts: list[str]) -> ServerIdentity:
    """Creates the TLS key, a self-signed certificate for `hosts` and the Ed25519 signing key."""
    identity = ServerIdentity(folder)
    if identity.exists():
        raise AlkoError(
            f"The server's keys already exist in {folder}.",
            hint="Desks pinned that certificate; creating new keys would make them refuse the "
            "server. Delete the folder first if you really mean to start over.",
        )
    _private_folder(folder)
    tls_key = ec.generate_private_key(ec.SECP256R1())
    names = sorted(set(hosts) | {"localhost", "127.0.0.1", socket.gethostname()})
    san: list[x509.GeneralName] = []
    for name in names:
        try:
            san.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            san.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ALKO Desk server {names[0]}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(tls_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * CERT_YEARS))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(tls_key, hashes.SHA256())
    )
    _write_private(
        identity.key_path,
        tls_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write_private(identity.cert_path, cert.public_bytes(serialization.Encoding.PEM))
    _write_private(
        folder / SIGNING_KEY,
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return identity


# ----------------------------------------------------------------------------- desk side


@dataclass(frozen=True)
class Pin:
    fingerprint: str
    signing_key: str = ""  # base64 Ed25519 public key, for audit checkpoints

    def to_json(self) -> str:
        return json.dumps({"fingerprint": self.fingerprint, "signing_key": self.signing_key})

    @classmethod
    def from_json(cls, text: str) -> Pin:
        data = json.loads(text)
        return cls(data["fingerprint"], data.get("signing_key", ""))


class PinStore:
    """Pins in the OS keyring (alko_desk.secrets.SecretStore, or anything with get/set)."""

    def __init__(self, secrets_store) -> None:
        self._secrets = secrets_store

    def get(self, address: str) -> Pin | None:
        raw = self._secrets.get(PIN_PREFIX + canonical_address(address))
        if not raw:
            return None
        try:
            return Pin.from_json(raw)
        except (ValueError, KeyError):
            return None

    def set(self, address: str, pin: Pin | None) -> None:
        ok = self._secrets.set(PIN_PREFIX + canonical_address(address), pin and pin.to_json())
        if not ok and pin is not None:
            raise ServerUntrusted(
                "This computer has no secure keyring to remember the server's certificate in.",
                hint="Without it the desk would have to trust the server anew every time.",
            )

    def checkpoint(self, address: str) -> str | None:
        """The newest signed audit checkpoint this desk has seen from the server (JSON)."""
        return self._secrets.get(CHECKPOINT_PREFIX + canonical_address(address))

    def keep_checkpoint(self, address: str, text: str) -> None:
        self._secrets.set(CHECKPOINT_PREFIX + canonical_address(address), text)

    def chosen_server(self) -> str:
        """The showroom server this desk works with ("" = the database on this computer)."""
        return self._secrets.get(CHOSEN_SERVER_KEY) or ""

    def choose_server(self, address: str) -> None:
        self._secrets.set(CHOSEN_SERVER_KEY, canonical_address(address) if address else None)


def fetch_certificate(address: str, timeout: float = 5.0) -> bytes:
    """The certificate the server at `address` presents (DER), before it is trusted."""
    host, port = parse_address(address)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # we only read it here; trust is decided by the pin
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            ctx.wrap_socket(sock, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise ServerUnavailable(
            f"The ALKO Desk server at {host}:{port} does not answer.",
            hint="Check that it is running and that this computer can reach it. "
            f"({type(exc).__name__})",
        ) from None
    if not der:
        raise ServerUntrusted(f"The server at {host}:{port} presented no certificate.")
    return der


def pinned_context(der: bytes) -> ssl.SSLContext:
    """TLS that accepts exactly this certificate: it is the only trust anchor, and the pin
    (not the host name) says which server it is."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=der)
    return ctx


def certificate_changed_message(address: str, pinned: str, seen: str) -> ServerUntrusted:
    return ServerUntrusted(
        f"The server at {address} presented a different certificate from the one this desk "
        "trusts, so the desk did not connect.",
        hint="If the server was re-installed, an admin must enrol this desk again. Otherwise "
        "someone may be impersonating the server: tell your admin.\n"
        f"Trusted: {pinned}\nPresented: {seen}",
    )
