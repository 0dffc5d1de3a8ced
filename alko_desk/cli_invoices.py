"""`alko-desk invoice ...` and `alko-desk payment ...`: the invoicing commands.

Kept apart from cli.py (which only lists these groups) so that the shared file stays small.
Same services, permission checks and audit entries as the window.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from alko_desk.models.errors import AlkoError, ValidationError
from alko_desk.models.invoices import (
    Address,
    Deposit,
    DocumentTampered,
    InvoiceAccount,
    InvoiceLine,
    Party,
    PaymentMethod,
    VatCategory,
)
from alko_desk.models.money import Money

EXIT_CHECK_FAILED = 3  # the stored PDF's hash does not match (README: 3 = a check failed)


def _cli():
    from alko_desk import cli

    return cli


def _acting_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--as",
        dest="acting",
        metavar="USER",
        required=True,
        help=f"the staff account doing this; its password is asked for, or read from "
        f"{_cli().PASSWORD_ENV}",
    )
    return parent


def add_invoice_commands(subparsers) -> None:
    cli = _cli()
    acting = _acting_parent()
    group = cli._group(subparsers, "invoice", "Invoices and credit notes (finance).")
    issue = cli._command(
        group,
        "issue",
        invoice_issue,
        "Issue an invoice from an approved deal (or from a draft file) and print its number.",
        [acting],
    )
    source = issue.add_mutually_exclusive_group(required=True)
    source.add_argument("--deal", metavar="DEAL_ID", help="the approved deal to invoice")
    source.add_argument(
        "--draft",
        metavar="FILE",
        type=Path,
        help="a JSON draft: customer, lines, supply_date, deposits (see the README)",
    )
    listing = cli._command(
        group,
        "list",
        invoice_list,
        "List invoices and credit notes with paid and status.",
        [acting],
    )
    listing.add_argument("--series", help="only this series, e.g. ALKO-2026")
    listing.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    listing.add_argument("--open", action="store_true", help="only open and overdue invoices")
    pdf = cli._command(
        group,
        "pdf",
        invoice_pdf,
        f"Write the PDF stored at issue; its SHA-256 is checked first (exit {EXIT_CHECK_FAILED} "
        "if it was altered).",
        [acting],
    )
    pdf.add_argument("number")
    pdf.add_argument("--out", required=True, type=Path, metavar="FILE")
    credit = cli._command(
        group,
        "credit",
        invoice_credit,
        "Issue a credit note for all of an invoice, or for --amount of it (VAT included).",
        [acting],
    )
    credit.add_argument("number")
    credit.add_argument("--amount", help="the amount to credit, VAT included (default: all)")
    credit.add_argument("--reason", required=True)


def add_payment_commands(subparsers) -> None:
    cli = _cli()
    acting = _acting_parent()
    group = cli._group(subparsers, "payment", "Payments and refunds against invoices (finance).")
    add = cli._command(group, "add", payment_add, "Record a payment against an invoice.", [acting])
    add.add_argument("number", help="the invoice number")
    _payment_arguments(add)
    add.add_argument(
        "--overpayment",
        action="store_true",
        help="accept an amount above the balance, recorded as an overpayment",
    )
    refund = cli._command(
        group, "refund", payment_refund, "Record money paid back against a credit note.", [acting]
    )
    refund.add_argument("number", help="the credit note number")
    _payment_arguments(refund)
    receipt = cli._command(
        group, "receipt", payment_receipt, "Write the receipt PDF of a payment.", [acting]
    )
    receipt.add_argument("payment_id", help="as printed by `payment add`, e.g. ALKO-2026-000001/1")
    receipt.add_argument("--out", required=True, type=Path, metavar="FILE")


def _payment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amount", required=True)
    parser.add_argument(
        "--method",
        required=True,
        type=_method,
        metavar="METHOD",
        help="one of: " + ", ".join(m.value.replace(" ", "-") for m in PaymentMethod),
    )
    parser.add_argument("--date", help="YYYY-MM-DD (default: today)")
    parser.add_argument("--reference", default="")


# ----------------------------------------------------------------------------- handlers


def _method(text: str) -> PaymentMethod:
    try:
        return PaymentMethod.parse(text)
    except ValueError:
        choices = ", ".join(m.value.replace(" ", "-") for m in PaymentMethod)
        raise argparse.ArgumentTypeError(f"{text!r} is not a payment method ({choices})") from None


def _amount(text: str, currency: str) -> Money:
    try:
        return Money(Decimal(text.replace(" ", "")), currency)
    except (InvalidOperation, ValueError):
        raise ValidationError(f"“{text}” is not an amount; write it like 1250.00.") from None


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"“{text}” is not a date; write it as YYYY-MM-DD.") from None


def invoice_issue(args: argparse.Namespace) -> int:
    with _cli().acting_services(args) as services:
        invoicing = services.invoices
        invoicing.finish_interrupted()  # what a desk does at login: a crash's leftovers first
        if args.deal:
            invoice = invoicing.issue_for_deal(args.deal)
        else:
            invoice = invoicing.issue(_draft_from_file(invoicing, args.draft))
    print(invoice.number)
    return 0


def _draft_from_file(invoicing, path: Path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AlkoError(f"Cannot read {path}: {exc.strerror}.") from None
    except ValueError as exc:
        raise ValidationError(f"{path} is not valid JSON: {exc}.") from None
    currency = invoicing.company().currency
    try:
        c = data["customer"]
        customer = Party(
            c["name"],
            Address(c["street"], c.get("city", ""), c.get("postcode", ""), c["country"]),
            vat_id=c.get("vat_id", ""),
        )
        lines = [
            InvoiceLine(
                ln["description"],
                Decimal(str(ln.get("quantity", "1"))),
                _amount(str(ln["unit_price"]), currency),
                VatCategory(ln.get("vat", "S")),
                Decimal(str(ln.get("rate", "0"))),
                ln.get("vin", ""),
            )
            for ln in data["lines"]
        ]
        deposits = tuple(
            Deposit(
                _amount(str(d["amount"]), currency),
                date.fromisoformat(d["received_on"]),
                d.get("reference", ""),
            )
            for d in data.get("deposits", [])
        )
        supply = date.fromisoformat(data["supply_date"])
    except KeyError as exc:
        raise ValidationError(f"The draft in {path} lacks {exc.args[0]!r}.") from None
    except (ValueError, InvalidOperation) as exc:
        raise ValidationError(f"The draft in {path} has a bad value: {exc}.") from None
    return invoicing.new_draft(
        customer, lines, supply, deposits=deposits, notes=data.get("notes", "")
    )


def _row(a: InvoiceAccount) -> dict:
    inv = a.invoice
    return {
        "number": inv.number,
        "series": inv.series,
        "kind": inv.kind.value,
        "deal": inv.draft.deal_id,
        "customer": inv.draft.customer.name,
        "issue_date": inv.issue_date.isoformat(),
        "due_date": inv.due_date.isoformat(),
        "net": str(inv.totals.taxable.amount),
        "vat": str(inv.totals.vat.amount),
        "gross": str(inv.totals.gross.amount),
        "due": str(inv.totals.due.amount),
        "credited": str(a.credited.amount),
        "paid": str(a.paid.amount),
        "balance": str(a.balance.amount) if not inv.is_credit_note else "0",
        "currency": inv.currency,
        "status": a.status.value,
        "corrects": inv.corrects.number if inv.corrects else "",
    }


def invoice_list(args: argparse.Namespace) -> int:
    with _cli().acting_services(args) as services:
        if args.open:
            accounts, totals = services.invoices.open_items()
        else:
            accounts, totals = services.invoices.list_invoices(args.series), {}
    if args.series:
        accounts = [a for a in accounts if a.invoice.series == args.series]
    rows = [_row(a) for a in accounts]
    if args.json:
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    table = [("NUMBER", "DEAL", "ISSUED", "CUSTOMER", "TOTAL", "PAID", "BALANCE", "STATUS")]
    for r in rows:
        table.append(
            (
                r["number"],
                r["deal"] or "-",
                r["issue_date"],
                r["customer"],
                f"{Decimal(r['gross']):,.2f} {r['currency']}",
                f"{Decimal(r['paid']):,.2f}",
                f"{Decimal(r['balance']):,.2f}",
                r["status"],
            )
        )
    if len(table) == 1:
        print("No invoices.")
        return 0
    _cli()._print_table(table)
    for key, money in totals.items():
        print(f"{key}: {money}")
    return 0


def invoice_pdf(args: argparse.Namespace) -> int:
    with _cli().acting_services(args) as services:
        try:
            data = services.invoices.pdf(args.number, "export")
        except DocumentTampered as exc:
            _cli()._error(exc.user_text())
            return EXIT_CHECK_FAILED
    try:
        args.out.write_bytes(data)
    except OSError as exc:
        raise AlkoError(f"Cannot write {args.out}: {exc.strerror}.") from None
    print(f"Wrote {args.number} to {args.out} ({len(data):,} bytes, SHA-256 checked).")
    return 0


def invoice_credit(args: argparse.Namespace) -> int:
    with _cli().acting_services(args) as services:
        invoicing = services.invoices
        amount = None
        if args.amount:
            amount = _amount(args.amount, invoicing.get(args.number).currency)
        note = invoicing.credit(args.number, args.reason, amount)
    print(note.number)
    return 0


def payment_add(args: argparse.Namespace) -> int:
    with _cli().acting_services(args) as services:
        invoicing = services.invoices
        currency = invoicing.get(args.number).currency
        payment = invoicing.record_payment(
            args.number,
            _amount(args.amount, currency),
            args.method,
            paid_on=_date(args.date),
            reference=args.reference,
            overpayment=args.overpayment,
        )
        account = invoicing.account(args.number)
    print(payment.id)
    print(f"Balance of {args.number}: {account.balance} ({account.status.value}).")
    return 0


def payment_refund(args: argparse.Namespace) -> int:
    with _cli().acting_services(args) as services:
        invoicing = services.invoices
        currency = invoicing.get(args.number).currency
        payment = invoicing.record_refund(
            args.number,
            _amount(args.amount, currency),
            args.method,
            paid_on=_date(args.date),
            reference=args.reference,
        )
    print(payment.id)
    return 0


def payment_receipt(args: argparse.Namespace) -> int:
    with _cli().acting_services(args) as services:
        data = services.invoices.receipt_pdf(args.payment_id)
    try:
        args.out.write_bytes(data)
    except OSError as exc:
        raise AlkoError(f"Cannot write {args.out}: {exc.strerror}.") from None
    print(f"Wrote the receipt to {args.out}.")
    return 0
