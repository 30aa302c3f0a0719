"""Stripe through its official library: what one of our invoices becomes in Stripe (a plan,
built without any network), and the calls that create, finalize and void it.

One invoice costs one call per line plus two: the draft invoice (`pending_invoice_items_behavior`
"exclude", so nothing pending on the customer is swept in), one invoice item per line attached to
it, then the finalization. Every call carries an idempotency key derived from our invoice and line
ids, so a retry after a crash, a 500 or a timeout replays Stripe's first answer instead of making a
second item or invoice. Stripe keeps a key for 24 hours only, so a retry does not lean on them
for what an earlier attempt made: once the Stripe invoice's id is known, it reads the invoice
back (an earlier attempt may have finalized it) and lists its items (matched by our line id in
their metadata), and creates only the missing ones. The library is pointed at `STRIPE_API_BASE`
(tests: a local fake); each thread keeps its client, and its kept-alive connections, from one
invoice to the next."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import requests
import stripe
from django.conf import settings

# Every idempotency key starts with it (Stripe keeps keys for 24 hours).
KEY_PREFIX = "billing"
# Stripe's largest page of a list.
LIST_PAGE = 100


@dataclass(frozen=True)
class StripeItem:
    """One invoice line as a Stripe invoice item: amount in the smallest currency unit."""

    line_id: str
    amount: int
    description: str
    idempotency_key: str
    period_start: int | None = None
    period_end: int | None = None


@dataclass(frozen=True)
class StripeInvoicePlan:
    """Everything Stripe is told about one of our invoices, idempotency keys included."""

    invoice_id: str
    customer: str
    currency: str
    collection_method: str
    days_until_due: int | None
    description: str
    metadata: dict
    create_key: str
    finalize_key: str
    items: tuple[StripeItem, ...] = field(default_factory=tuple)
    automatic_tax: bool = False


@dataclass
class StripeResult:
    """What Stripe answered for a sent invoice, and how many calls it took."""

    external_id: str = ""
    status: str = ""
    total: int | None = None
    currency: str = ""
    hosted_invoice_url: str = ""
    pdf_url: str = ""
    payment_id: str = ""
    calls: int = 0
    error: str = ""  # why a payment failed (PaymentIntents)
    action_required: bool = False  # the customer must act (3-D Secure) before it is paid


class StripeCallError(Exception):
    """A Stripe call failed; `calls` says how many were made before and including it."""

    def __init__(self, message: str, *, calls: int, retryable: bool = True):
        super().__init__(message)
        self.calls = calls
        self.retryable = retryable


def key_fingerprint(customer: str, collection_method: str) -> str:
    """Part of the idempotency keys that changes when the Stripe customer or collection method
    changes: Stripe refuses a reused key with other parameters, and a corrected configuration
    must be sent as new requests."""
    return hashlib.sha256(f"{customer}|{collection_method}".encode()).hexdigest()[:10]


def invoice_keys(invoice_id: str, fingerprint: str) -> tuple[str, str]:
    base = f"{KEY_PREFIX}-{invoice_id}"
    return f"{base}-invoice-{fingerprint}", f"{base}-finalize"


def item_key(invoice_id: str, line_id: str, fingerprint: str) -> str:
    return f"{KEY_PREFIX}-{invoice_id}-line-{line_id}-{fingerprint}"


def void_key(invoice_id: str) -> str:
    return f"{KEY_PREFIX}-{invoice_id}-void"


def minor_units(amount: Decimal, decimal_places: int) -> int:
    """An amount already rounded to the pricing unit's smallest amount, as an integer count of
    it (what Stripe calls the smallest currency unit). Never rounds: a finer amount is an error."""
    scaled = amount.scaleb(decimal_places)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} is finer than the pricing unit's smallest amount")
    return int(scaled)


_local = threading.local()


def environment_proxy(url: str) -> dict | None:
    """The proxy the environment gives for `url` (HTTP_PROXY / HTTPS_PROXY, unless NO_PROXY
    names its host), as the library takes it."""
    proxies = requests.utils.get_environ_proxies(url)
    proxy = {scheme: proxies[scheme] for scheme in ("http", "https") if scheme in proxies}
    return proxy or None


def client_for(secret_key: str) -> stripe.StripeClient:
    """This thread's client for the key and today's settings, made once per thread: it keeps its
    connections open from one invoice to the next. Its HTTP session takes the environment's
    proxies (HTTPS_PROXY, NO_PROXY, ...) once, when it is made, rather than reading the whole
    environment again on every call (a tenth of a call's time)."""
    options = (
        secret_key,
        settings.STRIPE_API_BASE,
        settings.STRIPE_MAX_NETWORK_RETRIES,
        settings.STRIPE_TIMEOUT_SECONDS,
    )
    client = getattr(_local, "client", None)
    if client is None or _local.options != options:
        session = requests.Session()
        session.trust_env = False
        client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": settings.STRIPE_API_BASE},
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
            http_client=stripe.RequestsClient(
                timeout=settings.STRIPE_TIMEOUT_SECONDS,
                session=session,
                proxy=environment_proxy(settings.STRIPE_API_BASE),
            ),
        )
        _local.client, _local.options = client, options
    return client


class _Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self, function: Callable, *args, **kwargs):
        self.calls += 1
        try:
            return function(*args, **kwargs)
        except stripe.StripeError as exc:
            raise StripeCallError(
                _describe(exc), calls=self.calls, retryable=_retryable(exc)
            ) from exc


def _describe(exc: stripe.StripeError) -> str:
    status = f"HTTP {exc.http_status}: " if exc.http_status else ""
    message = exc.user_message or str(exc) or type(exc).__name__
    return f"Stripe {type(exc).__name__}: {status}{message}"


def _retryable(exc: stripe.StripeError) -> bool:
    """Worth trying again unchanged: network trouble, rate limits, Stripe's own errors. A refused
    request (bad customer, bad key) needs someone to fix the configuration first; it is still
    retried, with the longest backoff."""
    return not isinstance(
        exc, stripe.InvalidRequestError | stripe.AuthenticationError | stripe.PermissionError
    )


def _result(invoice, calls: int) -> StripeResult:
    invoice = invoice.to_dict()
    payment = invoice.get("payment_intent")
    return StripeResult(
        external_id=invoice["id"],
        status=invoice.get("status") or "",
        total=invoice.get("total"),
        currency=invoice.get("currency") or "",
        hosted_invoice_url=invoice.get("hosted_invoice_url") or "",
        pdf_url=invoice.get("invoice_pdf") or "",
        payment_id=payment if isinstance(payment, str) else "",
        calls=calls,
    )


def invoice_send(
    client: stripe.StripeClient,
    plan: StripeInvoicePlan,
    *,
    external_id: str = "",
    on_created: Callable[[str], None] = lambda external_id: None,
) -> StripeResult:
    """Create (unless `external_id` says an earlier attempt did), fill and finalize the Stripe
    invoice of `plan`. `on_created` records the Stripe id as soon as it is known. When an earlier
    attempt made the invoice, what it did is read back rather than replayed through idempotency
    keys, which Stripe forgets after 24 hours: an invoice it finalized is taken as it is, and
    only the items it did not make are created."""
    call = _Counter()
    items = plan.items
    if external_id:
        existing = call(client.v1.invoices.retrieve, external_id)
        if existing.status != "draft":
            return _result(existing, call.calls)
        made = {
            (item.to_dict().get("metadata") or {}).get("invoice_line_id")
            for item in _items_of(call, client, existing)
        }
        items = tuple(item for item in plan.items if item.line_id not in made)
    else:
        params: dict = {
            "customer": plan.customer,
            "currency": plan.currency,
            "collection_method": plan.collection_method,
            "auto_advance": False,
            "pending_invoice_items_behavior": "exclude",
            "description": plan.description,
            "metadata": plan.metadata,
        }
        if plan.collection_method == "send_invoice":
            params["days_until_due"] = plan.days_until_due or 0
        if plan.automatic_tax:
            params["automatic_tax"] = {"enabled": True}
        created = call(
            client.v1.invoices.create,
            params=params,
            options={"idempotency_key": plan.create_key},
        )
        external_id = created.id
        on_created(external_id)
    for item in items:
        params = {
            "customer": plan.customer,
            "invoice": external_id,
            "amount": item.amount,
            "currency": plan.currency,
            "description": item.description,
            "metadata": {"invoice_id": plan.invoice_id, "invoice_line_id": item.line_id},
        }
        if item.period_start is not None and item.period_end is not None:
            params["period"] = {"start": item.period_start, "end": item.period_end}
        call(
            client.v1.invoice_items.create,
            params=params,
            options={"idempotency_key": item.idempotency_key},
        )
    finalized = call(
        client.v1.invoices.finalize_invoice,
        external_id,
        params={"auto_advance": True},
        options={"idempotency_key": plan.finalize_key},
    )
    return _result(finalized, call.calls)


def _items_of(call: _Counter, client: stripe.StripeClient, invoice) -> Iterator:
    """The Stripe invoice's items, page by page (each page a counted call)."""
    params: dict = {"invoice": invoice.id, "limit": LIST_PAGE}
    while True:
        page = call(client.v1.invoice_items.list, params=params)
        yield from page.data
        if not page.has_more or not page.data:
            return
        params = {**params, "starting_after": page.data[-1].id}


def invoice_void(
    client: stripe.StripeClient, *, external_id: str, invoice_id: str, finalized: bool
) -> StripeResult:
    """Void a finalized Stripe invoice; delete one still in draft (a hand-off cut short)."""
    call = _Counter()
    if finalized:
        voided = call(
            client.v1.invoices.void_invoice,
            external_id,
            options={"idempotency_key": void_key(invoice_id)},
        )
        return _result(voided, call.calls)
    try:
        call(client.v1.invoices.delete, external_id)
    except StripeCallError as exc:
        # Deleted already by an earlier attempt whose answer was lost.
        if "No such invoice" not in str(exc):
            raise
    return StripeResult(external_id=external_id, status="deleted", calls=call.calls)


def payment_intent_key(invoice_id: str, fingerprint: str) -> str:
    return f"{KEY_PREFIX}-{invoice_id}-payment-intent-{fingerprint}"


def payment_intent_send(
    client: stripe.StripeClient, plan: StripeInvoicePlan, *, external_id: str = ""
) -> StripeResult:
    """Charge the invoice's total as one PaymentIntent, off-session, on the Stripe customer's
    default payment method (a gated threshold commit paid by PAYMENT_INTENT). `status` is
    "paid" when Stripe confirmed it at once, "failed" when the card was declined or the
    customer has no default payment method, otherwise "sent" (processing, or waiting on the
    customer: `payment_intent.*` webhooks tell the rest). A retry reads back the PaymentIntent
    an earlier attempt made."""
    call = _Counter()
    if external_id:
        return _intent_result(call(client.v1.payment_intents.retrieve, external_id), call.calls)
    customer = call(client.v1.customers.retrieve, plan.customer).to_dict()
    method = (customer.get("invoice_settings") or {}).get("default_payment_method")
    if isinstance(method, dict):
        method = method.get("id")
    if not method:
        return StripeResult(status="failed", calls=call.calls, error="no default payment method")
    amount = sum(item.amount for item in plan.items)
    try:
        intent = call(
            client.v1.payment_intents.create,
            params={
                "amount": amount,
                "currency": plan.currency,
                "customer": plan.customer,
                "payment_method": method,
                "off_session": True,
                "confirm": True,
                "description": plan.description,
                "metadata": plan.metadata,
            },
            options={"idempotency_key": plan.create_key},
        )
    except StripeCallError as exc:
        declined = exc.__cause__
        if not isinstance(declined, stripe.CardError):
            raise
        error = getattr(declined, "error", None)
        intent = getattr(error, "payment_intent", None) if error is not None else None
        return StripeResult(
            external_id=intent.id if intent is not None else "",
            status="failed",
            total=amount,
            currency=plan.currency,
            calls=exc.calls,
            error=str(exc),
        )
    return _intent_result(intent, call.calls)


# A PaymentIntent's status as a payment's: declined (it waits for another payment method, which
# an off-session charge will not get) or canceled is a failure.
INTENT_STATUSES = {"succeeded": "paid", "canceled": "failed", "requires_payment_method": "failed"}


def _intent_result(intent, calls: int) -> StripeResult:
    intent = intent.to_dict()
    status = intent.get("status") or ""
    return StripeResult(
        external_id=intent["id"],
        status=INTENT_STATUSES.get(status, "sent"),
        total=intent.get("amount"),
        currency=intent.get("currency") or "",
        payment_id=intent["id"],
        calls=calls,
        action_required=status == "requires_action",
    )
