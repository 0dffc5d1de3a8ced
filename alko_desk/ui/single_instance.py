"""One ALKO Desk per data folder: a second start brings the running window to the front.

Two desks on one data folder would share the embedded database server that the
first one started; when the first quits, the server goes with it and the second
can never log in again. So the first desk listens on a local socket named after
the data folder (and the user); a second start finds it, asks it to show itself,
and exits (QLocalServer/QLocalSocket: a Unix socket or a Windows named pipe).
"""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_MS = 1000
SHOW = b"show\n"


def instance_key(data_folder: Path) -> str:
    """The socket name for a data folder: the same folder (however written) gives the same name."""
    try:
        folder = str(Path(data_folder).expanduser().resolve())
    except OSError:
        folder = str(data_folder)
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name: the folder alone still separates desks
        user = ""
    digest = hashlib.sha256(f"{user}\0{folder}".encode()).hexdigest()[:20]
    return f"alko-desk-{digest}"


class SingleInstance(QObject):
    """`claim()` is True for the first desk on a folder; that desk's `activated` fires on later starts."""

    activated = Signal()

    def __init__(self, data_folder: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = instance_key(data_folder)
        self._server: QLocalServer | None = None

    @property
    def owner(self) -> bool:
        return self._server is not None and self._server.isListening()

    def notify_running(self) -> bool:
        """Asks a desk already running on this folder to come forward; False if there is none."""
        socket = QLocalSocket()
        socket.connectToServer(self.key)
        if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
            return False
        socket.write(SHOW)
        socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
        socket.disconnectFromServer()
        return True

    def claim(self) -> bool:
        """True when this desk is the one for the folder (and now listens), False if another runs."""
        if self.notify_running():
            return False
        QLocalServer.removeServer(self.key)  # the socket file a crashed desk may have left
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.key):
            # Rather a desk that runs than none: say so in the log and go on.
            log.warning("could not listen for other starts (%s)", server.errorString())
            return True
        server.newConnection.connect(self._connected)
        self._server = server
        return True

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _connected(self) -> None:
        server = self._server
        while server is not None and server.hasPendingConnections():
            socket = server.nextPendingConnection()
            socket.disconnected.connect(socket.deleteLater)
            self.activated.emit()
            socket.disconnectFromServer()
