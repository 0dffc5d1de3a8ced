"""Invoices: issuing one (with its PDF and e-invoice), 1,000 PDFs in a batch, reportlab vs HTML."""

from __future__ import annotations

import html
import statistics
import time
from dataclasses import replace
from datetime import date

from bench.registry import Result, benchmark
from bench.workspace import ADMIN, ADMIN_PASSWORD, Workspace

FINANCE = "fiona"
FINANCE_PASSWORD = "finance benchmarks a long passphrase 2"
TEMPORARY = "a temporary passphrase for fiona 3"


def _sample_invoices(count: int):
    from tests.invoice_data import CROATIAN, RUSSIAN, deposit_draft, issued

    base = deposit_draft()
    out = []
    for n in range(1, count + 1):
        customer = RUSSIAN if n % 2 else CROATIAN
        out.append(issued(replace(base, customer=customer), f"ALKO-2026-{n:06d}"))
    return out


@benchmark("Invoice: issue one, incl. PDF + e-invoice", target="< 150 ms", order=60)
def issue_one(ws: Workspace) -> Result:
    from alko_desk.models.users import Role
    from tests.invoice_data import CROATIAN, car_line

    ctx = ws.context()
    admin = ctx.auth.login(ADMIN, ADMIN_PASSWORD)
    ctx.services_for(admin).users.create_user(FINANCE, "Fiona Finance", Role.FINANCE, TEMPORARY)
    session = ctx.auth.change_password(
        ctx.auth.login(FINANCE, TEMPORARY), TEMPORARY, FINANCE_PASSWORD
    )
    invoicing = ctx.services_for(session).invoices
    draft = invoicing.new_draft(CROATIAN, [car_line()], date(2026, 11, 24))
    for _ in range(3):  # warm up: fonts, XSD, the first documents of each collection
        invoicing.issue(draft)
    times = []
    cpu, server_cpu = time.process_time(), ws.server_cpu_seconds()
    for _ in range(20):
        started = time.perf_counter()
        invoicing.issue(draft)
        times.append((time.perf_counter() - started) * 1000)
    cpu = (time.process_time() - cpu) * 1000 / 20
    server = ws.server_cpu_seconds()
    # CPU time too: on a shared machine the wall time says more about the neighbours.
    server_text = (
        f" + {(server - server_cpu) * 1000 / 20:.0f} ms FerretDB"
        if server is not None and server_cpu is not None
        else ""
    )
    median = statistics.median(times)
    return Result.at_most(
        median,
        150,
        "ms",
        f"median of 20 (min {min(times):.0f}, max {max(times):.0f} ms), embedded FerretDB; "
        f"CPU per issue {cpu:.0f} ms desk{server_text}",
    )


@benchmark("Invoice: 1,000 PDFs in a batch (PDF + e-invoice)", target="< 60 s", order=61)
def thousand_pdfs(ws: Workspace) -> Result:
    from alko_desk.models.invoices import InvoiceSettings
    from alko_desk.services.invoicing import render_document

    settings = InvoiceSettings()
    invoices = _sample_invoices(1000)
    render_document(invoices[0], settings)
    started, cpu = time.perf_counter(), time.process_time()
    size = 0
    for invoice in invoices:
        size += len(render_document(invoice, settings))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    # CPU time too: on a shared machine the wall time says more about the neighbours.
    return Result.at_most(
        seconds,
        60,
        "s",
        f"{seconds / len(invoices) * 1000:.0f} ms each ({cpu:.0f} s CPU), {size / 1e6:.0f} MB",
    )


@benchmark("Invoice: WeasyPrint time / reportlab time", target="reported", order=62)
def reportlab_vs_weasyprint(ws: Workspace) -> Result:
    from alko_desk.documents.invoice_pdf import render_invoice_pdf

    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: pango missing
        return Result(
            0,
            "",
            True,
            f"skipped: WeasyPrint unavailable ({type(exc).__name__}); "
            "`bash scripts/setup.sh --bench` installs it and Debian's pango",
        )
    invoice = _sample_invoices(1)[0]
    page = _invoice_html(invoice)
    render_invoice_pdf(invoice)
    weasyprint.HTML(string=page).write_pdf()

    def median_ms(fn) -> float:
        times = []
        for _ in range(10):
            started = time.perf_counter()
            fn()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    rl = median_ms(lambda: render_invoice_pdf(invoice))
    wp = median_ms(lambda: weasyprint.HTML(string=page).write_pdf())
    return Result(
        wp / rl,
        "x",
        True,
        f"same invoice, median of 10: reportlab {rl:.0f} ms, WeasyPrint {wp:.0f} ms",
    )


def _invoice_html(invoice) -> str:
    """The same invoice as an ERP would template it in HTML (same font, same content)."""
    from alko_desk.documents.fonts import BOLD, REGULAR, font_file
    from alko_desk.documents.invoice_pdf import format_amount, format_date, format_money

    d = invoice.draft
    t = invoice.totals
    e = html.escape
    rows = "".join(
        f"<tr><td>{i}</td><td>{e(ln.description)}<br>VIN: {e(ln.vin)}</td>"
        f"<td class=r>{ln.quantity}</td><td class=r>{format_amount(ln.unit_price)}</td>"
        f"<td class=r>{ln.vat_rate} %</td><td class=r>{format_amount(ln.net)}</td></tr>"
        for i, ln in enumerate(d.lines, 1)
    )
    return f"""<!doctype html><html><head><meta charset=utf-8><style>
@font-face {{ font-family: S; src: url(file://{font_file(REGULAR)}); }}
@font-face {{ font-family: S; font-weight: bold; src: url(file://{font_file(BOLD)}); }}
@page {{ size: A4; margin: 16mm 18mm 22mm; @bottom-right {{ content: "Page " counter(page)
  " of " counter(pages); font: 7.5pt S; }} }}
body {{ font: 9.5pt S; }} table {{ width: 100%; border-collapse: collapse; }}
th {{ background: #EEF1F5; text-align: left; }} td, th {{ border-bottom: .4pt solid #bbb; }}
.r {{ text-align: right; }} h1 {{ font-size: 17pt; }}
</style></head><body>
<p class=r><b>{e(d.supplier.name)}</b><br>{"<br>".join(map(e, d.supplier.address.lines()))}
<br>VAT ID: {e(d.supplier.vat_id)}<br>IBAN: {e(d.bank.iban)}</p>
<h1>Invoice {e(invoice.number)}</h1>
<p><b>{e(d.customer.name)}</b><br>{"<br>".join(map(e, d.customer.address.lines()))}</p>
<p>Date of issue {format_date(invoice.issue_date)} · Date of supply {format_date(d.supply_date)}
· Due {format_date(invoice.due_date)}</p>
<table><tr><th>#</th><th>Description</th><th class=r>Qty</th><th class=r>Unit price</th>
<th class=r>VAT</th><th class=r>Amount</th></tr>{rows}</table>
<table style="width: 60%; margin-left: 40%"><tr><td>Total without VAT</td>
<td class=r>{format_money(t.taxable)}</td></tr><tr><td>VAT</td><td class=r>{format_money(t.vat)}</td></tr>
<tr><td><b>Total</b></td><td class=r><b>{format_money(t.gross)}</b></td></tr>
<tr><td>Amount due</td><td class=r><b>{format_money(t.due)}</b></td></tr></table>
<p>Payment terms: payable within {d.payment_terms_days} days. Reference {e(invoice.number)}.</p>
</body></html>"""
