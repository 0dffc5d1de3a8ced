"""`alko-desk document ...`: reading an MRZ, adding and listing a client's ID documents."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from alko_desk.cli import (
    EXIT_OK,
    PASSWORD_ENV,
    _command,
    _group,
    _print_rows,
    _print_table,
    acting_services,
)
from alko_desk.models.documents import DocumentType, MrzReading
from alko_desk.models.errors import ValidationError

EXIT_NO_MRZ = 1
EXIT_CHECK_FAILED = 3


def add_commands(subparsers) -> None:
    document = _group(subparsers, "document", "Clients' ID documents and their MRZ.")
    read = _command(
        document,
        "read-mrz",
        read_mrz,
        "Read the machine-readable zone of a scan or photo (PNG, JPEG, TIFF, or a PDF's first "
        "page) and check its check digits. Exit 0: every check digit holds; 3: read, but a check "
        "digit fails; 1: no MRZ found. Needs no login.",
    )
    read.add_argument("image", type=Path, metavar="IMAGE")
    read.add_argument("--json", action="store_true", help="print the fields as JSON")

    add = _command(
        document,
        "add",
        document_add,
        f"Store a client's ID document, encrypted (password asked for, or {PASSWORD_ENV}).",
    )
    add.add_argument("client_id", metavar="CLIENT_ID")
    add.add_argument("files", type=Path, nargs="+", metavar="FILE", help="one file per page")
    add.add_argument(
        "--type",
        dest="doc_type",
        required=True,
        metavar="T",
        help="id-card, passport, driving-licence, residence-permit or other",
    )
    add.add_argument("--country", default="", help="issuing country (ISO 3166 alpha-3)")
    add.add_argument("--number", default="", help="the document's number")
    add.add_argument("--expiry", default="", help="expiry date, YYYY-MM-DD")
    add.add_argument("--as", dest="acting", metavar="USER", required=True)

    sync = _command(
        document,
        "sync",
        document_sync,
        "Upload the documents waiting on this desk now, then remove stored assets that no "
        "document refers to (left by a crash; sales staff and admins only).",
    )
    sync.add_argument("--as", dest="acting", metavar="USER", required=True)

    listing = _command(document, "list", document_list, "A client's documents.")
    listing.add_argument("client_id", metavar="CLIENT_ID")
    listing.add_argument("--as", dest="acting", metavar="USER", required=True)


def _mrz_rows(reading: MrzReading) -> list[tuple[str, str]]:
    def day(d) -> str:
        return d.isoformat() if d else "(unreadable)"

    rows = [
        ("Format", reading.format),
        ("Document type", reading.document_type),
        ("Issuing country", reading.issuing_country),
        ("Surname", reading.surname),
        ("Given names", reading.given_names),
        ("Document number", reading.document_number),
        ("Nationality", reading.nationality),
        ("Birth date", day(reading.birth_date)),
        ("Sex", reading.sex),
        ("Expiry", day(reading.expiry_date) + (" (expired)" if reading.expired else "")),
        ("Optional data", reading.optional_data),
    ]
    rows += [(f"Check digit, {c.name}", "holds" if c.ok else "FAILS") for c in reading.checks]
    rows += [("Repaired", r) for r in reading.repairs]
    return rows


def read_mrz(args: argparse.Namespace) -> int:
    from alko_desk.services.clock import SystemClock
    from alko_desk.services.images import open_image
    from alko_desk.services.mrz_ocr import read_mrz_image

    image = open_image(args.image)
    reading = read_mrz_image(image, SystemClock().now().date())
    if reading is None:
        if args.json:
            print(json.dumps({"found": False}))
        print(
            f"No machine-readable zone was found in {args.image}. Check that the whole "
            "document is in the image, sharp and upright.",
            file=sys.stderr,
        )
        return EXIT_NO_MRZ
    if args.json:
        print(json.dumps({"found": True, **reading.as_dict()}, ensure_ascii=False, indent=2))
    else:
        _print_rows(_mrz_rows(reading))
    if not reading.valid:
        print(
            "These check digits fail: " + ", ".join(reading.failed_checks) + ".",
            file=sys.stderr,
        )
        return EXIT_CHECK_FAILED
    return EXIT_OK


def document_add(args: argparse.Namespace) -> int:
    from datetime import date

    from alko_desk.models.documents import DocumentDraft
    from alko_desk.services.images import read_file

    try:
        doc_type = DocumentType.parse(args.doc_type)
    except ValueError:
        raise ValidationError(
            f"Unknown document type {args.doc_type!r}: use id-card, passport, driving-licence, "
            "residence-permit or other."
        ) from None
    try:
        expiry = date.fromisoformat(args.expiry) if args.expiry else None
    except ValueError:
        raise ValidationError("--expiry must be a date written YYYY-MM-DD.") from None
    pages = [read_file(p) for p in args.files]
    draft = DocumentDraft(doc_type, args.country.upper(), args.number, expiry)
    with acting_services(args) as services:
        documents = services.documents
        info = documents.add(args.client_id, draft, pages)
        waiting = documents.waiting_count()
    print(f"Stored document {info.id} ({info.type.label}, {len(info.pages)} page(s)).")
    if waiting:
        print(f"{waiting} document page(s) waiting to upload; they are retried automatically.")
    return EXIT_OK


def document_list(args: argparse.Namespace) -> int:
    with acting_services(args) as services:
        documents = services.documents
        infos = documents.list(args.client_id)
        today = documents.today()
    if not infos:
        print("This client has no documents.")
        return EXIT_OK
    rows = [("ID", "TYPE", "COUNTRY", "NUMBER", "EXPIRY", "PAGES", "STATE")]
    for info in infos:
        expiry = info.expiry.isoformat() if info.expiry else ""
        if info.expired(today):
            expiry += " (expired)"
        rows.append(
            (
                info.id,
                info.type.label,
                info.issuing_country,
                info.number,
                expiry,
                str(len(info.pages)),
                info.state.value,
            )
        )
    _print_table(rows)
    return EXIT_OK


def document_sync(args: argparse.Namespace) -> int:
    with acting_services(args) as services:
        documents = services.documents
        result = documents.flush_outbox(force=True)
        # What went up is said before the reconciliation, which may refuse this role.
        print(f"Uploaded {result.uploaded} page(s); {result.waiting} still waiting.", flush=True)
        if result.failed:
            print(f"The store could not be reached: {result.last_error}", file=sys.stderr)
            return 1
        removed = documents.reconcile()
    print(f"Removed {removed} stored asset(s) that no document refers to.")
    return EXIT_OK
