"""The invoice document as PDF: the same HTML as the page, laid out by WeasyPrint.

WeasyPrint (BSD, maintained by CourtBouillon) renders HTML and CSS to PDF in-process with pango
and the system's fonts (`.ci/run` installs Debian's pango and DejaVu fonts): no browser, no
external service, and the output is deterministic, so a finalized invoice's PDF is byte-identical
on every render (its creation date is the invoice's issue date)."""

from __future__ import annotations

from django.template.loader import render_to_string

from .document import Document

TEMPLATE = "dashboards/invoice_document.html"


def document_html(
    doc: Document, *, actions: list[dict] | None = None, for_pdf: bool = False
) -> str:
    return render_to_string(TEMPLATE, {"doc": doc, "actions": actions or [], "for_pdf": for_pdf})


def document_pdf(doc: Document) -> bytes:
    """The PDF of `doc`. The logo is inline (a data URI): nothing is fetched while rendering."""
    import weasyprint  # imported on first use: it loads pango, which the web tier needs only here

    return weasyprint.HTML(string=document_html(doc, for_pdf=True), base_url=None).write_pdf(
        pdf_identifier=f"invoice-{doc.invoice.pk}".encode()
    )


def pdf_filename(doc: Document) -> str:
    if doc.number:
        return f"invoice-{doc.number}.pdf"
    return f"invoice-draft-{doc.invoice.start_timestamp:%Y-%m-%d}.pdf"
