"""A scripted desk in its own process (tests/gui/test_two_desks.py): connects to the showroom
server, logs in, registers one client and prints its id with the moment it was saved.

    python -m tests.remote_desk_script ADDRESS FINGERPRINT USERNAME PASSWORD FIRST LAST
"""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    from alko_desk.remote.desk import RemoteDesk
    from alko_desk.remote.trust import PinStore
    from alko_desk.services.clients import new_client_id
    from tests.clients_data import draft
    from tests.conftest import MemorySecrets

    address, fingerprint, username, password, first, last = argv
    desk = RemoteDesk(address, pins=PinStore(MemorySecrets()), fingerprint=fingerprint)
    services = desk.login(username, password)
    print(json.dumps({"ready": time.monotonic()}), flush=True)
    sys.stdin.readline()  # the test says when: its window is open and listening
    client = services.clients.register(
        new_client_id(),
        draft(
            first,
            last,
            email="zdenka.horvat@example.hr",
            id_number="556677889",
            licence="HR112233",
            phone="098 765 4321",
        ),
    )
    print(json.dumps({"id": client.id, "saved": time.monotonic()}), flush=True)
    services.logout()
    desk.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
