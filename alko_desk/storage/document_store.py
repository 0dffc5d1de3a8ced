"""Where encrypted document pages live: Cloudinary, or a folder. Both behind one interface.

A store only ever receives ciphertext (the documents service seals every page with the
client's data key first) under an opaque asset id: 32 random hex digits that say nothing
about the client or the document. Writing an id twice leaves one asset (uploads overwrite),
so an upload retried after a lost answer makes no duplicate.

Cloudinary is used through its official SDK, with every call given its own credentials
(the SDK's global configuration is left alone): signed uploads (SHA-256 signatures) of
`raw` assets with the `authenticated` delivery type, reads through a short-lived signed
`private_download_url`, deletion with `destroy(..., invalidate=True)`, and the Admin API's
resource listing for the reconciliation.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from alko_desk.models.errors import AlkoError, NotFound

ASSET_ID = re.compile(r"^[0-9a-f]{32}$")


class StoreUnavailable(AlkoError):
    """The store cannot be reached or refused the request; the upload waits and is retried."""


def new_asset_id() -> str:
    return os.urandom(16).hex()


def _check_id(asset_id: str) -> str:
    if not ASSET_ID.match(asset_id):
        raise ValueError(f"not an asset id: {asset_id!r}")
    return asset_id


class DocumentStore(Protocol):
    name: str

    def put(self, asset_id: str, blob: bytes) -> None: ...

    def get(self, asset_id: str) -> bytes: ...

    def delete(self, asset_id: str) -> None: ...

    def asset_ids(self) -> set[str]: ...


# -- a folder ----------------------------------------------------------------------------------


class LocalDocumentStore:
    """Encrypted pages as files in a folder (the data folder, or a shared one from Settings)."""

    name = "local"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, asset_id: str) -> Path:
        return self.folder / _check_id(asset_id)[:2] / f"{asset_id}.bin"

    def put(self, asset_id: str, blob: bytes) -> None:
        path = self._path(asset_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as out:
                out.write(blob)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise StoreUnavailable(
                f"The document folder {self.folder} cannot be written: {exc.strerror}.",
                hint="Check that the folder exists and that this desk may write to it.",
            ) from None

    def get(self, asset_id: str) -> bytes:
        try:
            return self._path(asset_id).read_bytes()
        except FileNotFoundError:
            raise NotFound("This document page is missing from the document folder.") from None
        except OSError as exc:
            raise StoreUnavailable(
                f"The document folder {self.folder} cannot be read: {exc.strerror}."
            ) from None

    def delete(self, asset_id: str) -> None:
        try:
            self._path(asset_id).unlink()
        except FileNotFoundError:
            pass

    def asset_ids(self) -> set[str]:
        if not self.folder.is_dir():
            return set()
        return {p.stem for p in self.folder.glob("??/*.bin") if ASSET_ID.match(p.stem)}


# -- Cloudinary -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloudinaryCredentials:
    cloud_name: str
    api_key: str
    api_secret: str = field(repr=False)
    folder: str = "alko-desk"  # the public ids' prefix: says nothing about any client
    upload_prefix: str = ""  # another API address (tests, a proxy); empty: Cloudinary's own

    def masked_key(self) -> str:
        return self.api_key[:3] + "…" + self.api_key[-2:] if len(self.api_key) > 6 else "…"


class CloudinaryDocumentStore:
    name = "cloudinary"

    def __init__(
        self, credentials: CloudinaryCredentials, *, timeout: float = 15.0, link_seconds: int = 60
    ) -> None:
        import urllib3

        self._cred = credentials
        self._timeout = timeout
        self._link_seconds = link_seconds
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(5.0, timeout), read=timeout), retries=False
        )

    def public_id(self, asset_id: str) -> str:
        return f"{self._cred.folder}/{_check_id(asset_id)}"

    def _options(self) -> dict:
        options = {
            "cloud_name": self._cred.cloud_name,
            "api_key": self._cred.api_key,
            "api_secret": self._cred.api_secret,
            "resource_type": "raw",
            "type": "authenticated",
            "signature_algorithm": "sha256",
        }
        if self._cred.upload_prefix:
            options["upload_prefix"] = self._cred.upload_prefix
        return options

    def put(self, asset_id: str, blob: bytes) -> None:
        import cloudinary.uploader

        with _translated("upload"):
            cloudinary.uploader.upload(
                ("page.bin", blob),
                public_id=self.public_id(asset_id),
                overwrite=True,
                timeout=self._timeout,
                **self._options(),
            )

    def download_url(self, asset_id: str) -> str:
        """A signed link that works for `link_seconds` only."""
        import cloudinary.utils

        return cloudinary.utils.private_download_url(
            self.public_id(asset_id),
            "",
            expires_at=int(time.time()) + self._link_seconds,
            **self._options(),
        )

    def get(self, asset_id: str) -> bytes:
        import urllib3

        url = self.download_url(asset_id)
        try:
            response = self._http.request("GET", url, preload_content=True)
        except urllib3.exceptions.HTTPError as exc:
            raise _unavailable("download", exc) from None
        if response.status == 404:
            raise NotFound("This document page is missing from Cloudinary.")
        if response.status != 200:
            raise StoreUnavailable(
                f"Cloudinary answered the download with an error (HTTP {response.status}).",
                hint="Try again in a moment; if it persists, an admin checks the credentials.",
            )
        return response.data

    def delete(self, asset_id: str) -> None:
        import cloudinary.uploader

        with _translated("deletion"):
            cloudinary.uploader.destroy(
                self.public_id(asset_id), invalidate=True, timeout=self._timeout, **self._options()
            )

    def asset_ids(self) -> set[str]:
        import cloudinary.api

        found: set[str] = set()
        cursor = None
        prefix = f"{self._cred.folder}/"
        while True:
            with _translated("listing"):
                page = cloudinary.api.resources(
                    prefix=prefix,
                    max_results=500,
                    next_cursor=cursor,
                    timeout=self._timeout,
                    **self._options(),
                )
            for resource in page.get("resources", []):
                rest = resource.get("public_id", "")[len(prefix) :]
                if ASSET_ID.match(rest):
                    found.add(rest)
            cursor = page.get("next_cursor")
            if not cursor:
                return found


class _translated:
    """Any failure of a Cloudinary call as StoreUnavailable, with a sentence for the user."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None:
            return False
        import cloudinary.exceptions

        if isinstance(
            exc, cloudinary.exceptions.AuthorizationRequired | cloudinary.exceptions.NotAllowed
        ):
            raise StoreUnavailable(
                f"Cloudinary refused the {self._what}: the credentials in Settings are not accepted.",
                hint="An admin checks the cloud name, API key and secret in Settings.",
            ) from None
        if isinstance(exc, cloudinary.exceptions.Error | OSError):
            raise _unavailable(self._what, exc) from None
        return False


def _unavailable(what: str, exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(
        f"Cloudinary could not be reached for the {what}.",
        hint="Check the network. Uploads wait on this desk and are retried by themselves. "
        f"(Detail: {type(exc).__name__})",
    )
