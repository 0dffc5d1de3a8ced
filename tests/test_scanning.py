"""Scanning through SANE's `test` backend, and the message when there is no scanner."""

from __future__ import annotations

import subprocess
import sys

from alko_desk.models.listing import Progress
from alko_desk.services.scanning import ScanCancelled, ScanService, _supported_dpi
from tests.sane_config import use_test_scanner, write_config


def test_the_test_scanner_is_listed_and_a_scan_arrives_as_an_id_card_sized_image():
    use_test_scanner()
    service = ScanService()
    [device] = service.devices()
    assert device.name == "test:0" and device.kind == "virtual device"
    progress = Progress()
    image = service.scan(dpi=300, progress=progress)
    # 85.6 x 54 mm at 300 dpi
    assert abs(image.width - 1011) <= 2 and abs(image.height - 638) <= 2
    assert image.mode == "RGB"
    assert len(image.resize((64, 64)).getcolors(4096)) > 4  # colour bars, not a blank page
    assert progress.done == progress.total > 0


def test_a_scan_cancelled_before_it_starts_says_so():
    use_test_scanner()
    progress = Progress()
    progress.cancel()
    try:
        ScanService().scan(progress=progress)
    except ScanCancelled as exc:
        assert exc.message == "The scan was cancelled."
    else:
        raise AssertionError("the scan went ahead")


def test_without_any_scanner_the_message_says_what_to_check(tmp_path):
    # SANE reads its configuration once per process: a fresh one with no backend at all.
    folder = write_config(tmp_path / "sane", backends="")
    code = (
        "from alko_desk.services.scanning import ScanService, NoScannerFound\n"
        "try:\n    ScanService().scan()\n"
        "except NoScannerFound as e:\n    print(e.user_text())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"SANE_CONFIG_DIR": str(folder), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.startswith("No scanner found."), done.stderr
    assert "scanimage -L" in done.stdout and "switched on" in done.stdout


def _sigpipe_ignored() -> bool:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << 12))  # SIGPIPE is signal 13
    raise AssertionError("no SigIgn line")


def test_a_scan_leaves_sigpipe_ignored_so_a_closed_socket_cannot_kill_the_app():
    use_test_scanner()
    assert _sigpipe_ignored()
    ScanService().scan(dpi=100)
    assert _sigpipe_ignored()  # SANE's reader had reset it to "terminate"


def test_a_preview_is_a_quick_grey_pass_at_75_dpi():
    use_test_scanner()
    image = ScanService().preview()
    assert abs(image.width - 253) <= 2 and image.mode == "L"  # 85.6 mm at 75 dpi


def test_a_resolution_the_device_lacks_becomes_its_nearest_one_above():
    def options(constraint):
        return [(1, "resolution", "Resolution", "", 1, 4, 4, 5, constraint)]

    assert _supported_dpi(options([100, 150, 300]), 75) == 100  # lowest it has
    assert _supported_dpi(options([100, 150, 300]), 600) == 300  # highest when none above
    assert _supported_dpi(options((50, 1200, 1)), 75) == 75
    assert _supported_dpi(options((100, 1200, 1)), 75) == 100
    assert _supported_dpi([], 75) == 75  # no resolution option: left as asked
