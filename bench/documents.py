"""ID documents: MRZ reading, scanning with SANE's test backend, encrypted uploads to a loopback
Cloudinary, and memory over 100 uploads."""

from __future__ import annotations

import gc
import io
import os
import statistics
import time
from datetime import date

from bench.registry import Result, benchmark
from bench.workspace import ADMIN, ADMIN_PASSWORD, Workspace

SALES_PASSWORD = "documents bench sales passphrase 3"


def _median_ms(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


@benchmark("MRZ read from a scan (TD3 and TD1, noisy, rotated)", target="< 1.5 s", order=400)
def mrz_read(ws: Workspace) -> Result:
    from alko_desk.services.mrz_ocr import read_mrz_image
    from tests.mrz_images import render_document
    from tests.test_mrz import TD1, TD3

    images = [
        render_document(TD3, noise=0.02, blur=1.0, rotate=2),
        render_document(TD1, noise=0.03, blur=1.3, rotate=-3),
    ]
    times, cpu = [], []
    for _ in range(3):
        for image in images:
            start, start_cpu = time.perf_counter(), _cpu_seconds()
            reading = read_mrz_image(image, date(2026, 11, 25))
            times.append(time.perf_counter() - start)
            cpu.append(_cpu_seconds() - start_cpu)
            if reading is None or not reading.valid:
                return Result(0, "s", False, "an MRZ was not read")
    return Result.at_most(
        statistics.median(times),
        1.5,
        "s",
        detail=f"median of 6, worst {max(times):.2f} s; CPU (with Tesseract) "
        f"{statistics.median(cpu):.2f} s; load average {os.getloadavg()[0]:.1f}",
    )


def _cpu_seconds() -> float:
    """This process's and its finished children's (Tesseract's) CPU time."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@benchmark("Scan to image, SANE test backend, 300 dpi", target="< 2 s", order=410)
def scan_to_image(ws: Workspace) -> Result:
    from alko_desk.services.images import downscale
    from alko_desk.services.scanning import ScanService
    from tests.sane_config import use_test_scanner

    use_test_scanner()
    service = ScanService()

    def once():
        downscale(service.scan(dpi=300), 1000)  # the preview the editor shows

    median, worst = _median_ms(once, 5)
    return Result.at_most(median / 1000, 2, "s", detail=f"median of 5, worst {worst:.0f} ms")


def _uploading(ws: Workspace):
    """(fake Cloudinary, documents service of a sales user, a client id), made once per run."""
    cached = getattr(ws, "_documents_bench", None)
    if cached:
        return cached
    from alko_desk.models.users import Role
    from alko_desk.services.clients import new_client_id
    from tests.clients_data import draft
    from tests.fake_cloudinary import FakeCloudinary

    fake = FakeCloudinary().start()
    ctx = ws.context()
    admin = ctx.auth.login(ADMIN, ADMIN_PASSWORD)
    admin_services = ctx.services_for(admin)
    admin_services.users.create_user("sam", "Sam Sales", Role.SALES, SALES_PASSWORD)
    admin_services.documents.configure_cloudinary(
        fake.cloud_name, fake.api_key, fake.api_secret, upload_prefix=fake.url
    )
    session = ctx.auth.login("sam", SALES_PASSWORD)
    session = ctx.auth.change_password(session, SALES_PASSWORD, SALES_PASSWORD + "!")
    services = ctx.services_for(session)
    client_id = services.clients.register(new_client_id(), draft()).id
    ws._documents_bench = (fake, services.documents, client_id)
    return ws._documents_bench


def _two_megabyte_scan() -> bytes:
    from PIL import Image

    noise = Image.frombytes("RGB", (1800, 1300), os.urandom(1800 * 1300 * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=92)  # random pixels: a JPEG that does not compress away
    return out.getvalue()[: 2 * 1024 * 1024]


@benchmark("Encrypt and upload a 2 MB scan (loopback Cloudinary)", target="< 200 ms", order=420)
def encrypt_and_upload(ws: Workspace) -> Result:
    from alko_desk.security.crypto import seal
    from alko_desk.services.documents import _page_context
    from alko_desk.storage.document_store import new_asset_id

    fake, documents, client_id = _uploading(ws)
    scan = _two_megabyte_scan()
    store = documents._current_store()
    key = documents._document_key(client_id)  # the ID-document key, as `add` seals with

    def once():
        asset_id = new_asset_id()
        store.put(asset_id, seal(key, scan, _page_context(client_id, "d" * 24, asset_id)))

    once()  # the connection pool warms up
    median, worst = _median_ms(once, 10)
    return Result.at_most(
        median,
        200,
        "ms",
        detail=f"{len(scan) / 1e6:.1f} MB, seal + signed upload, median of 10, worst {worst:.0f} ms",
    )


@benchmark("Memory over 100 consecutive document uploads", target="< 20 MB growth", order=430)
def memory_over_uploads(ws: Workspace) -> Result:
    import psutil

    from alko_desk.models.documents import DocumentDraft, DocumentType

    fake, documents, client_id = _uploading(ws)
    scan = _two_megabyte_scan()
    draft = DocumentDraft(DocumentType.PASSPORT, "HRV", "123456789")
    process = psutil.Process()
    for _ in range(10):  # warm up: pools, caches, allocator arenas
        documents.add(client_id, draft, [scan])
    fake.assets.clear()
    fake.bodies.clear()
    gc.collect()
    before = process.memory_info().rss
    start = time.perf_counter()
    for _ in range(100):
        documents.add(client_id, draft, [scan])
        fake.assets.clear()  # the fake keeps what it receives; the desk must not
        fake.bodies.clear()
    elapsed = time.perf_counter() - start
    gc.collect()
    growth = (process.memory_info().rss - before) / 1e6
    waiting = documents.waiting_count()
    return Result(
        growth,
        "MB",
        growth < 20 and waiting == 0,
        detail=f"DocumentService.add, {elapsed / 100 * 1000:.0f} ms each (outbox, record, audit); "
        f"{waiting} waiting",
    )


@benchmark(
    "Showroom desk adds a 2 MB page (TLS to the server, sealed and uploaded there)",
    target="< 500 ms",
    order=425,
)
def showroom_add(ws: Workspace) -> Result:
    """Our own target (the issue sets none for this path): the 200 ms upload plus one TLS hop
    with the page base64-encoded. Server and desk share this process (the server on a thread),
    so the figure includes both sides' work."""
    from alko_desk.models.documents import DocumentDraft, DocumentType
    from alko_desk.models.users import Role
    from alko_desk.remote.desk import RemoteDesk
    from alko_desk.remote.server import Backend, RunningServer, ServerContext
    from alko_desk.remote.trust import PinStore, init_identity
    from alko_desk.services.clients import new_client_id
    from bench.server import _Pins
    from tests.clients_data import draft
    from tests.fake_cloudinary import FakeCloudinary

    fake = FakeCloudinary().start()
    ctx = ws.context()
    server_ctx = ServerContext(ctx.store, data_dir=ws.path("showroom-server"), clock=ctx.clock)
    identity = init_identity(ws.path("showroom-keys") / "identity", ["127.0.0.1"])
    running = RunningServer(Backend(server_ctx, identity), identity, "127.0.0.1", 0).start()
    desk = None
    try:
        desk = RemoteDesk(
            f"127.0.0.1:{running.port}", pins=PinStore(_Pins()), fingerprint=identity.fingerprint()
        )
        admin = desk.login(ADMIN, ADMIN_PASSWORD)
        admin.confirm_password(ADMIN_PASSWORD)
        admin.documents.configure_cloudinary(
            fake.cloud_name, fake.api_key, fake.api_secret, upload_prefix=fake.url
        )
        admin.users.create_user("sam", "Sam Sales", Role.SALES, SALES_PASSWORD)
        sam = desk.login("sam", SALES_PASSWORD).change_password(
            SALES_PASSWORD, SALES_PASSWORD + "!"
        )
        client_id = sam.clients.register(new_client_id(), draft()).id
        scan = _two_megabyte_scan()
        passport = DocumentDraft(DocumentType.PASSPORT, "HRV", "123456789")

        def once():
            sam.documents.add(client_id, passport, [scan])
            fake.assets.clear()
            fake.bodies.clear()

        once()  # connections and caches warm up
        median, worst = _median_ms(once, 10)
        waiting = sam.documents.waiting_count()
    finally:
        if desk is not None:
            desk.close()
        running.stop()
        fake.stop()
    return Result(
        median,
        "ms",
        median <= 500 and waiting == 0,
        detail=f"{len(scan) / 1e6:.1f} MB page, documents.add through the server, median of 10, "
        f"worst {worst:.0f} ms; {waiting} waiting; load average {os.getloadavg()[0]:.1f}",
    )
