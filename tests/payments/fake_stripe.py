"""A local fake of the part of Stripe's HTTP API the product uses (invoices: create, retrieve,
finalize, void, delete; invoice items: create, list by invoice; customers: retrieve (the default
payment method); PaymentIntents: create (confirmed off-session), retrieve), served on 127.0.0.1 by werkzeug
so the official `stripe` library can be pointed at it (`STRIPE_API_BASE`). It records every
request, answers with Stripe-shaped objects, honours idempotency keys as Stripe does (a key
replays its first answer; the same key with other parameters is refused; `forget_keys()` is the
24 hours after which Stripe forgets them), and can be told to fail the next calls: with a 500
before doing anything, or by doing the work and answering too late (a timeout whose effect
happened).

Used by tests/payments and benchmarks/payments.py (which serves it in a process of its own, as
Stripe runs elsewhere: `in_own_process`)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Call:
    method: str
    path: str
    params: dict
    idempotency_key: str | None
    replayed: bool = False
    status: int = 200


@dataclass
class FakeStripe:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    invoices: dict[str, dict] = field(default_factory=dict)
    items: dict[str, dict] = field(default_factory=dict)
    missing_customers: set[str] = field(default_factory=set)
    payment_intents: dict[str, dict] = field(default_factory=dict)
    # The customers with no default payment method; what a confirmed PaymentIntent becomes
    # ("succeeded", "processing", "requires_action", or "card_declined": a 402 card error).
    without_payment_method: set[str] = field(default_factory=set)
    payment_intent_outcome: str = "succeeded"
    latency: float = 0.0
    most_at_once: int = 0
    _in_flight: int = 0
    _failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    _idempotent: dict[str, tuple[str, int, dict]] = field(default_factory=dict)
    _ids = itertools.count(1)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what tests set up and read -----------------------------------------------------------

    def fail_next(self, route: str, kind: str = "500", times: int = 1, after: int = 0) -> None:
        """`route`: "create_invoice", "create_item", "finalize", "void", "delete", "retrieve",
        "list_items"; `kind`: "500" (nothing done) or "timeout" (done, answered after the client
        gave up); `after`: how many calls of the route succeed first."""
        self._failures[route].extend(["ok"] * after + [kind] * times)

    def made(self, route_path: str, method: str = "POST") -> list[Call]:
        """The calls that did work (not replays, not failures) on paths starting so."""
        return [
            c
            for c in self.calls
            if c.method == method
            and c.path.startswith(route_path)
            and not c.replayed
            and c.status == 200
        ]

    def reset(self) -> None:
        self.calls.clear()

    def stats(self) -> dict:
        """How many invoices and items it holds, and how many requests it answered."""
        return {
            "invoices": len(self.invoices),
            "items": len(self.items),
            "requests": len(self.calls),
        }

    def forget_keys(self) -> None:
        """What Stripe does 24 hours after a key's first use: the key is new again."""
        with self._lock:
            self._idempotent.clear()

    # --- the WSGI app ---------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"] == "/_fake/stats":
            return _json(200, self.stats())(environ, start_response)
        with self._lock:
            self._in_flight += 1
            self.most_at_once = max(self.most_at_once, self._in_flight)
        try:
            response = self._handle(Request(environ))
        finally:
            with self._lock:
                self._in_flight -= 1
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        if self.latency:
            time.sleep(self.latency)
        source = request.args if request.method == "GET" else request.form
        params = _nested(source.items(multi=True))
        key = request.headers.get("Idempotency-Key")
        call = Call(request.method, request.path, params, key)
        with self._lock:
            self.calls.append(call)
        if not request.headers.get("Authorization", "").startswith("Bearer sk_"):
            call.status = 401
            return _error(401, "authentication_error", "Invalid API Key provided.")
        route, handler, args = self._route(request)
        if handler is None:
            call.status = 404
            return _error(
                404, "invalid_request_error", f"Unrecognized request URL ({request.path})."
            )
        failure = None
        with self._lock:
            if self._failures[route]:
                failure = self._failures[route].pop(0)
            if failure == "500":
                call.status = 500
                return _error(500, "api_error", "Something went wrong on Stripe's end.")
            fingerprint = json.dumps([request.method, request.path, params], sort_keys=True)
            if key is not None and key in self._idempotent:
                stored, status, body = self._idempotent[key]
                if stored != fingerprint:
                    call.status = 400
                    return _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.",
                    )
                call.replayed = True
                return _json(status, body, replayed=True)
            status, body = handler(params, *args)
            call.status = status
            if key is not None and status < 500:
                self._idempotent[key] = (fingerprint, status, body)
        if failure == "timeout":
            time.sleep(self.timeout_sleep)
        return _json(status, body)

    timeout_sleep: float = 3.0

    def _route(self, request: Request):
        parts = request.path.strip("/").split("/")
        method = request.method
        if parts == ["v1", "invoices"] and method == "POST":
            return "create_invoice", self._create_invoice, ()
        if parts == ["v1", "invoiceitems"] and method == "POST":
            return "create_item", self._create_item, ()
        if parts == ["v1", "invoiceitems"] and method == "GET":
            return "list_items", self._list_items, ()
        if len(parts) == 3 and parts[:2] == ["v1", "invoices"] and method == "GET":
            return "retrieve", self._retrieve, (parts[2],)
        if len(parts) == 4 and parts[:2] == ["v1", "invoices"] and method == "POST":
            action = {"finalize": self._finalize, "void": self._void}.get(parts[3])
            return parts[3], action, (parts[2],)
        if len(parts) == 3 and parts[:2] == ["v1", "invoices"] and method == "DELETE":
            return "delete", self._delete, (parts[2],)
        if len(parts) == 3 and parts[:2] == ["v1", "customers"] and method == "GET":
            return "retrieve_customer", self._retrieve_customer, (parts[2],)
        if parts == ["v1", "payment_intents"] and method == "POST":
            return "create_payment_intent", self._create_payment_intent, ()
        if len(parts) == 3 and parts[:2] == ["v1", "payment_intents"] and method == "GET":
            return "retrieve_payment_intent", self._retrieve_payment_intent, (parts[2],)
        return "", None, ()

    def _retrieve_customer(self, params, customer_id):
        if not customer_id.startswith("cus_") or customer_id in self.missing_customers:
            return 404, _error_body(
                "invalid_request_error", f"No such customer: '{customer_id}'", "resource_missing"
            )
        method = None if customer_id in self.without_payment_method else "pm_fake_visa"
        return 200, {
            "id": customer_id,
            "object": "customer",
            "invoice_settings": {"default_payment_method": method},
        }

    def _create_payment_intent(self, params):
        outcome = self.payment_intent_outcome
        intent = {
            "id": self._new_id("pi"),
            "object": "payment_intent",
            "amount": _int(params.get("amount")),
            "currency": params.get("currency"),
            "customer": params.get("customer"),
            "payment_method": params.get("payment_method"),
            "off_session": params.get("off_session") == "true",
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "status": "requires_payment_method" if outcome == "card_declined" else outcome,
        }
        self.payment_intents[intent["id"]] = intent
        if outcome == "card_declined":
            body = _error_body("card_error", "Your card was declined.", "card_declined")
            body["error"]["payment_intent"] = intent
            return 402, body
        return 200, intent

    def _retrieve_payment_intent(self, params, intent_id):
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            return 404, _error_body(
                "invalid_request_error", f"No such payment_intent: '{intent_id}'"
            )
        return 200, intent

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    def _create_invoice(self, params):
        customer = params.get("customer", "")
        if not customer.startswith("cus_") or customer in self.missing_customers:
            return 400, _error_body(
                "invalid_request_error", f"No such customer: '{customer}'", "resource_missing"
            )
        invoice_id = self._new_id("in")
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": customer,
            "currency": params.get("currency"),
            "collection_method": params.get("collection_method"),
            "days_until_due": _int(params.get("days_until_due")),
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "automatic_tax": {"enabled": params.get("automatic_tax", {}).get("enabled") == "true"},
            "status": "draft",
            "total": 0,
            "amount_paid": 0,
            "auto_advance": params.get("auto_advance") == "true",
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "lines": {"object": "list", "data": []},
        }
        self.invoices[invoice_id] = invoice
        return 200, invoice

    def _create_item(self, params):
        invoice = self.invoices.get(params.get("invoice", ""))
        if invoice is None:
            return 400, _error_body("invalid_request_error", "No such invoice", "resource_missing")
        if invoice["status"] != "draft":
            return 400, _error_body(
                "invalid_request_error", "The invoice is not a draft.", "invoice_not_editable"
            )
        item = {
            "id": self._new_id("ii"),
            "object": "invoiceitem",
            "invoice": invoice["id"],
            "customer": params.get("customer"),
            "amount": _int(params.get("amount")),
            "currency": params.get("currency"),
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "period": {k: _int(v) for k, v in params.get("period", {}).items()},
        }
        self.items[item["id"]] = item
        invoice["lines"]["data"].append(item)
        invoice["total"] += item["amount"]
        return 200, item

    def _list_items(self, params):
        """Newest first, `limit` a page (at most 100), `starting_after` an item id."""
        items = [
            item
            for item in reversed(self.items.values())
            if not params.get("invoice") or item["invoice"] == params["invoice"]
        ]
        if params.get("starting_after"):
            ids = [item["id"] for item in items]
            items = items[ids.index(params["starting_after"]) + 1 :]
        limit = min(_int(params.get("limit")) or 10, 100)
        return 200, {
            "object": "list",
            "url": "/v1/invoiceitems",
            "has_more": len(items) > limit,
            "data": items[:limit],
        }

    def _retrieve(self, params, invoice_id):
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            return 404, _error_body(
                "invalid_request_error", f"No such invoice: '{invoice_id}'", "resource_missing"
            )
        return 200, invoice

    def _finalize(self, params, invoice_id):
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            return 404, _error_body("invalid_request_error", f"No such invoice: '{invoice_id}'")
        if invoice["status"] != "draft":
            return 400, _error_body("invalid_request_error", "This invoice is already finalized.")
        invoice["status"] = "paid" if invoice["total"] == 0 else "open"
        invoice["hosted_invoice_url"] = f"{self.url}/i/{invoice_id}"
        invoice["invoice_pdf"] = f"{self.url}/i/{invoice_id}/pdf"
        return 200, invoice

    def _void(self, params, invoice_id):
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            return 404, _error_body("invalid_request_error", f"No such invoice: '{invoice_id}'")
        if invoice["status"] != "open":
            return 400, _error_body(
                "invalid_request_error", f"You can only void open invoices ({invoice['status']})."
            )
        invoice["status"] = "void"
        return 200, invoice

    def _delete(self, params, invoice_id):
        invoice = self.invoices.get(invoice_id)
        if invoice is None or invoice["status"] != "draft":
            return 404, _error_body("invalid_request_error", f"No such invoice: '{invoice_id}'")
        del self.invoices[invoice_id]
        return 200, {"id": invoice_id, "object": "invoice", "deleted": True}


def _int(value):
    return None if value in (None, "") else int(value)


def _nested(pairs) -> dict:
    """Stripe's form encoding (`metadata[invoice_id]=...`, `period[start]=...`) as dicts."""
    result: dict = {}
    for key, value in pairs:
        if "[" in key:
            head, rest = key.split("[", 1)
            result.setdefault(head, {})[rest.rstrip("]")] = value
        else:
            result[key] = value
    return result


def _error_body(kind: str, message: str, code: str | None = None) -> dict:
    error = {"type": kind, "message": message}
    if code:
        error["code"] = code
    return {"error": error}


def _error(status: int, kind: str, message: str) -> Response:
    return _json(status, _error_body(kind, message))


def _json(status: int, body: dict, *, replayed: bool = False) -> Response:
    headers = {"Request-Id": "req_fake"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    if status >= 500:
        headers["Stripe-Should-Retry"] = "true"
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


class running:
    """`with running(fake) as url:` serves the fake on a free local port in a thread."""

    def __init__(self, fake: FakeStripe):
        self.fake = fake
        self.server = make_server("127.0.0.1", 0, fake, threaded=True, request_handler=_Quiet)
        fake.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return self.fake.url

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class in_own_process:
    """`with in_own_process() as fake:` serves a fake in a child process (`fake.url`;
    `fake.stats()`: its counts of invoices, items and requests), so that its work does not share
    the interpreter of the code calling it, as Stripe's does not."""

    def __enter__(self) -> in_own_process:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.payments.fake_stripe"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.process.stdout.readline().strip()
        return self

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/_fake/stats") as response:
            return json.load(response)

    def __exit__(self, *exc) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    with running(FakeStripe()) as url:
        print(url, flush=True)
        sys.stdin.read()  # until the parent closes it
