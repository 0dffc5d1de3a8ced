"""Scanning a document through SANE (Linux), with the `python-sane` binding.

The scanner is attached to the desk, so this service runs on the desk whatever the
database or server: it touches no stored data and needs no login. SANE is initialised
for each call and closed after it, so that a scanner plugged in later is found and a
scan never keeps the device open.

Windows: no maintained Python binding for WIA or TWAIN was found (pytwain and
python-twain are unmaintained), so Windows desks import scans as files.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PIL import Image

from alko_desk.models.errors import AlkoError
from alko_desk.models.listing import Progress

_LOCK = threading.Lock()  # SANE is process-wide state: one call at a time

PREVIEW_DPI = 75  # a quick pass to check where the document lies on the glass

NO_SCANNER_HINT = (
    "Check that the scanner is switched on and connected (USB cable or network), that its "
    "SANE driver is installed (`scanimage -L` lists it), and that your user may use it "
    "(the `scanner` or `lp` group). Or import the scan as a file instead."
)


class ScannerError(AlkoError):
    pass


class NoScannerFound(ScannerError):
    def __init__(self) -> None:
        super().__init__("No scanner found.", hint=NO_SCANNER_HINT)


class ScanCancelled(ScannerError):
    def __init__(self) -> None:
        super().__init__("The scan was cancelled.")


@dataclass(frozen=True)
class ScannerInfo:
    name: str  # SANE's device name, e.g. "epson2:libusb:001:004"
    vendor: str
    model: str
    kind: str

    @property
    def label(self) -> str:
        return f"{self.vendor} {self.model}".strip() or self.name


def _sane():
    try:
        import sane
    except ImportError:
        raise ScannerError(
            "Scanning is not available on this computer.",
            hint="On Linux install SANE (libsane1) and python-sane; on Windows, import scans as files.",
        ) from None
    return sane


def _ignore_sigpipe_again() -> None:
    """SANE's reader (sanei_thread) sets SIGPIPE back to its default, under which the next
    write to a closed socket (an upload cut short, the database going away) kills the
    whole app instead of raising an error. Python ignores SIGPIPE; this restores that, from
    any thread (the `signal` module only works on the main thread)."""
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    libc.signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.signal.restype = ctypes.c_void_p
    libc.signal(int(signal.SIGPIPE), 1)  # SIG_IGN


class ScanService:
    def devices(self) -> list[ScannerInfo]:
        sane = _sane()
        with _LOCK:
            sane.init()
            try:
                return [ScannerInfo(*d) for d in sane.get_devices(localOnly=False)]
            finally:
                sane.exit()
                _ignore_sigpipe_again()

    def scan(
        self,
        device: str | None = None,
        *,
        dpi: int = 300,
        color: bool = True,
        progress: Progress | None = None,
    ) -> Image.Image:
        """One page from the scanner (the first one found when `device` is None)."""
        sane = _sane()
        with _LOCK:
            sane.init()
            try:
                if device is None:
                    found = sane.get_devices(localOnly=False)
                    if not found:
                        raise NoScannerFound()
                    device = found[0][0]
                try:
                    scanner = sane.open(device)
                except Exception:  # noqa: BLE001 - _sane.error and friends
                    raise ScannerError(
                        f"The scanner {device} cannot be opened.", hint=NO_SCANNER_HINT
                    ) from None
                try:
                    return self._scan_with(scanner, dpi, color, progress)
                finally:
                    scanner.close()
            finally:
                sane.exit()
                _ignore_sigpipe_again()

    def preview(
        self, device: str | None = None, *, progress: Progress | None = None
    ) -> Image.Image:
        """A quick grey pass at PREVIEW_DPI (or the device's nearest resolution above it)."""
        return self.scan(device, dpi=PREVIEW_DPI, color=False, progress=progress)

    def _scan_with(self, scanner, dpi: int, color: bool, progress: Progress | None) -> Image.Image:
        options = scanner.get_options()
        names = {o[1] for o in options}
        if "resolution" in names:
            scanner.resolution = _supported_dpi(options, dpi)
        if "mode" in names:
            try:
                scanner.mode = "Color" if color else "Gray"
            except Exception:  # noqa: BLE001 - a scanner with other mode names keeps its own
                pass

        def report(done: int, total: int) -> None:
            # Only reports: an exception raised inside python-sane's read loop crashes it, so
            # a cancellation takes effect when the page is in (a page takes a few seconds).
            if progress is not None:
                progress.report(done, total, "Scanning…")

        if progress is not None and progress.cancelled:
            raise ScanCancelled()
        try:
            scanner.start()
            image = scanner.snap(progress=report).copy()
        except Exception as exc:  # noqa: BLE001 - _sane.error: jammed, cover open, unplugged...
            raise ScannerError(
                f"The scanner stopped with an error: {exc}.",
                hint="Check the scanner (cover, paper, cable) and scan again.",
            ) from None
        if progress is not None and progress.cancelled:
            raise ScanCancelled()
        return image


def _supported_dpi(options, dpi: int) -> int:
    """`dpi`, or the device's nearest resolution at or above it (its highest when none is):
    SANE options are (number, name, title, description, type, unit, size, capabilities,
    constraint), the constraint a (min, max, step) range or a list of values."""
    constraint = next((o[8] for o in options if o[1] == "resolution"), None)
    if isinstance(constraint, tuple) and len(constraint) == 3:
        low, high, _step = constraint
        return int(min(max(dpi, low), high)) if high else dpi
    if isinstance(constraint, list) and constraint:
        values = sorted(int(v) for v in constraint)
        return next((v for v in values if v >= dpi), values[-1])
    return dpi
