"""A desk that issues invoices, run as its own process by tests/test_invoice_concurrency.py.

    python -m tests.invoice_worker URI DB USER PASSWORD COUNT [--crash-at STEP]
                                   [--deal DEAL_ID] [--now ISO_DATETIME]

Prints one issued number per line. `--crash-at STEP` kills the process with SIGKILL at that
step of issuing the first invoice (see STEPS). `--deal` issues the invoice of that deal (once)
instead of drafts; `--now` fixes the desk's clock (the test's own clock, for claims that lapse).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path

from alko_desk.bootstrap import AppContext
from alko_desk.services.clock import FixedClock
from alko_desk.storage.invoices_repo import InvoiceRepository
from alko_desk.storage.mongo import Store, connect
from tests.invoice_data import CROATIAN, car_line

# Where issuing can be interrupted: (repository method, before or after it runs).
STEPS = {
    "before_insert": ("try_insert", "before"),
    "after_insert": ("try_insert", "after"),
    "after_hint": ("advance_hint", "after"),
    "after_pdf_stored": ("store_pdf", "after"),
    "after_finish": ("finish", "after"),
}


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _crash_at(step: str) -> None:
    method_name, when = STEPS[step]
    original = getattr(InvoiceRepository, method_name)

    def wrapper(self, *args, **kwargs):
        if when == "before":
            _die()
        result = original(self, *args, **kwargs)
        _die()
        return result

    setattr(InvoiceRepository, method_name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("db")
    parser.add_argument("user")
    parser.add_argument("password")
    parser.add_argument("count", type=int)
    parser.add_argument("--crash-at", choices=sorted(STEPS))
    parser.add_argument("--deal", default="")
    parser.add_argument("--now", type=datetime.fromisoformat)
    args = parser.parse_args()
    store = Store.open(connect(args.uri), args.db)
    clock = {"clock": FixedClock(args.now)} if args.now else {}
    context = AppContext(store, data_dir=Path(tempfile.mkdtemp(prefix="alko-worker-")), **clock)
    session = context.auth.login(args.user, args.password)
    context.finish_interrupted_work(session)  # what a desk does at login
    service = context.services_for(session).invoices
    if args.crash_at:
        _crash_at(args.crash_at)
    if args.deal:
        print(service.issue_for_deal(args.deal).number, flush=True)
        return
    for _ in range(args.count):
        draft = service.new_draft(CROATIAN, [car_line()], date(2026, 11, 24))
        print(service.issue(draft).number, flush=True)


if __name__ == "__main__":
    main()
