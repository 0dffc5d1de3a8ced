"""Connecting the desk to a showroom server without blocking the window.

The first time an address is used, the desk shows the server certificate's SHA-256
fingerprint and asks staff to compare it with what `alko-desk server init` printed; only
then is it pinned (in the OS keyring, with the address). A pinned server that presents
another certificate is refused with the message of `ServerUntrusted`.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from alko_desk.models.errors import AlkoError
from alko_desk.ui.tasks import TaskRunner


class ServerConnector(QObject):
    connected = Signal(object)  # alko_desk.remote.desk.RemoteDesk
    refused = Signal(str)  # the text to show

    def __init__(self, tasks: TaskRunner, pins, parent_widget: QWidget | None = None) -> None:
        super().__init__(parent_widget)
        self._tasks = tasks
        self._pins = pins
        self._parent = parent_widget

    def connect_to(self, address: str) -> None:
        pins = self._pins

        def probe() -> tuple[str, bool]:
            from alko_desk.remote.trust import fetch_certificate, fingerprint

            return fingerprint(fetch_certificate(address)), pins.get(address) is not None

        self._tasks.run(
            probe,
            on_success=lambda result: self._probed(address, *result),
            on_failure=self._failed,
            parent=self._parent,
            title=self.tr("Connect to the server"),
        )

    def _probed(self, address: str, seen: str, pinned: bool) -> None:
        confirmed = None
        if not pinned:
            text = self.tr(
                "This desk has not connected to the ALKO Desk server at {address} before.\n\n"
                "Compare this fingerprint with the one the server printed when it was set up "
                "(ask your admin). Connect only if every pair matches:\n\n{fingerprint}"
            ).format(address=address, fingerprint=seen.replace(":", " "))
            if not self._tasks.dialogs.confirm(
                self._parent,
                self.tr("A new server"),
                text,
                ok_text=self.tr("The fingerprints match"),
            ):
                self.refused.emit(self.tr("Not connected: the fingerprint was not confirmed."))
                return
            confirmed = seen
        pins = self._pins

        def connect():
            from alko_desk.remote.desk import RemoteDesk

            return RemoteDesk(address, pins=pins, fingerprint=confirmed)

        self._tasks.run(
            connect,
            on_success=self.connected.emit,
            on_failure=self._failed,
            parent=self._parent,
            title=self.tr("Connect to the server"),
        )

    def _failed(self, exc: BaseException) -> bool:
        if isinstance(exc, AlkoError):
            self.refused.emit(exc.user_text())
            return True
        return False
