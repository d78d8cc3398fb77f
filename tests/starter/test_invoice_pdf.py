"""Invoice PDFs: rendered from what the webhooks said, stored, served at ``invoice_pdf``, written
by ``billhook invoice pdf``; read back as a receiver's user would, with poppler (pdftoppm to a
PNG, pdftotext for the words)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from client.pdf import invoice_pdf, render_invoice
from models.billing import PaymentStatus
from models.events import EventType
from models.payloads import invoice_event
from starter.pdf_server import PdfServer
from store import Store
from tests.models import fixtures
from tests.starter.conftest import Cli
from tests.store.store_testing import plan_event

INVOICE_ID = fixtures.INVOICE_ID


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The words of ``pdf``, in reading order (pdftotext -layout)."""
    path = tmp_path / "read.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return " ".join(done.stdout.split())


def png_of(pdf: bytes, tmp_path: Path) -> bytes:
    """The first page of ``pdf`` as a PNG (pdftoppm, 50 dpi)."""
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-singlefile", str(path), str(tmp_path / "page")],
        check=True,
    )
    return (tmp_path / "page.png").read_bytes()


@pytest.fixture(autouse=True)
def poppler() -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.fail("pdftotext and pdftoppm are missing: run make tools (poppler-utils)")


def emit(store: Store, event_type: EventType, status: PaymentStatus, minutes: int) -> None:
    """Store the fixed invoice's ``event_type`` message, as a dispatcher would."""
    state = fixtures.invoice_state(status, past_due=event_type is EventType.INVOICE_PAST_DUE)
    at = fixtures.ISSUED_AT + timedelta(minutes=minutes)
    plan_event(store, invoice_event(event_type, fixtures.INVOICE, state, at), at)


def test_the_pdf_shows_what_the_invoice_event_said(tmp_path: Path) -> None:
    pdf = render_invoice(fixtures.payload(EventType.INVOICE_CREATED))

    text = pdf_text(pdf, tmp_path)
    for shown in [
        "Invoice 240229-000001",
        "From Bill to Example Billing Co. Acme Corp 100 Broadway 350 Fifth Avenue",
        "invoices@billing.example billing@acme.example",
        "Issued 2024-02-29 Due 2024-03-30 Period 2024-01-31 to 2024-03-31 Status unpaid",
        "API calls 2024-01-31 to 2024-02-29 1234.5 12.35 USD",
        "Pro Flat Fee 2024-02-29 to 2024-03-31 49.99 USD",
        "Total 62.34 USD",
        f"Invoice id {INVOICE_ID}",
    ]:
        assert shown in text, (shown, text)
    png = png_of(pdf, tmp_path)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (414, 585)  # A4 (210 x 297 mm) at 50 dpi
    assert pdf == render_invoice(fixtures.payload(EventType.INVOICE_CREATED))  # reproducible


def test_an_invoice_without_terms_says_it_has_no_due_date(tmp_path: Path) -> None:
    state = fixtures.invoice_state(PaymentStatus.UNPAID, due_date=None)
    event = invoice_event(EventType.INVOICE_CREATED, fixtures.INVOICE, state, fixtures.ISSUED_AT)

    text = pdf_text(render_invoice(event.payload), tmp_path)

    assert "Due no due date" in text


def test_stored_once_per_event_and_rendered_again_when_it_is_paid(cli: Cli, tmp_path: Path) -> None:
    store = cli.store
    emit(store, EventType.INVOICE_CREATED, PaymentStatus.UNPAID, 0)

    first = invoice_pdf(store, INVOICE_ID)
    assert invoice_pdf(store, INVOICE_ID) == first
    assert "Status unpaid" in pdf_text(first, tmp_path)
    emit(store, EventType.INVOICE_PAID, PaymentStatus.PAID, 5)
    paid = invoice_pdf(store, INVOICE_ID)

    assert "Status paid" in pdf_text(paid, tmp_path)
    with store.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT COUNT(*) FROM invoicepdf")).scalar()
    assert stored == 2  # one per event rendered


def test_invoice_pdf_writes_the_file(cli: Cli, tmp_path: Path) -> None:
    emit(cli.store, EventType.INVOICE_CREATED, PaymentStatus.UNPAID, 0)
    target = tmp_path / "out" / "acme.pdf"
    target.parent.mkdir()

    out = cli.ok("invoice", "pdf", INVOICE_ID, "--output", str(target))

    assert out.startswith(f"wrote {target} (") and out.endswith(f"invoice {INVOICE_ID}\n")
    assert "Total 62.34 USD" in pdf_text(target.read_bytes(), tmp_path)


def test_an_unknown_invoice_is_one_line_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    result = cli("invoice", "pdf", "invoice_" + "0" * 32, "-o", str(tmp_path / "x.pdf"))

    assert result.code == 1 and result.err.count("\n") == 1
    assert result.err.startswith("error: no invoice invoice_000")
    assert not (tmp_path / "x.pdf").exists()
    directory = cli("invoice", "pdf", INVOICE_ID, "-o", str(tmp_path))
    assert directory.err == f"error: --output {tmp_path} is a directory; give a file name\n"


@pytest.fixture
def server(cli: Cli) -> Iterator[str]:
    """``billhook pdf-server`` on a free port of loopback; its base URL."""
    running = PdfServer(("127.0.0.1", 0), cli.store)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{running.server_address[1]}"
    running.shutdown()
    running.server_close()


def test_the_server_answers_the_invoice_pdf_url(cli: Cli, server: str, tmp_path: Path) -> None:
    emit(cli.store, EventType.INVOICE_CREATED, PaymentStatus.UNPAID, 0)
    path = fixtures.payload(EventType.INVOICE_CREATED)["invoice_pdf"].removeprefix(
        "https://billing.example.com"
    )

    with urllib.request.urlopen(server + path, timeout=10) as answer:
        assert answer.headers["Content-Type"] == "application/pdf"
        assert "Total 62.34 USD" in pdf_text(answer.read(), tmp_path)
    for wrong in ["/invoices/invoice_" + "0" * 32 + ".pdf", "/invoices/../../etc/passwd", "/"]:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server + wrong, timeout=10)
        assert refused.value.code == 404
