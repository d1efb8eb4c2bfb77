"""A local stand-in for Africa's Talking's SMS API, for the unmodified `africastalking`
SDK pointed at it by `AFRICASTALKING_BASE_URL`.

It speaks the API as documented: `POST /version1/messaging`, a form body (`username`,
`to` as comma-separated numbers, `message`, optional `from`, `bulkSMSMode`), the key in
the `apiKey` header, and the JSON answer

    {"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.8000",
                        "Recipients": [{"statusCode": 101, "number": "+254...",
                                        "status": "Success", "cost": "KES 0.8000",
                                        "messageId": "ATXid_..."}]}}

with `Content-Type: application/json` exactly (the SDK parses JSON only then). A
wrong username or key is a 401, as the real API answers.

    with AtStandin(username="sandbox", api_key="key") as standin:
        standin.url                      # AFRICASTALKING_BASE_URL
        standin.sent                     # [SeenSms(to=[...], message=..., sender=...)]
        standin.fail_next(2, 500)        # the next two requests answer HTTP 500
        standin.refuse["+254700000666"] = (403, "InvalidPhoneNumber")
        standin.delay = 0.5              # hold each SMS request (seen at once) this long
        standin.airtime                  # [SeenAirtime(phone, amount, key)], paid once a key

Airtime: `POST /version1/airtime/send` with `username`, `recipients` (JSON, amounts as
"KES 20.00") and an `Idempotency-Key` header; a key seen before is answered as the API
answers a duplicate, and nothing is paid again.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["AtStandin", "SeenAirtime", "SeenSms"]


@dataclass(frozen=True)
class SeenAirtime:
    phone: str
    amount: str
    key: str | None


@dataclass(frozen=True)
class SeenSms:
    username: str
    to: list[str]
    message: str
    sender: str | None
    bulk_mode: str | None


class AtStandin:
    def __init__(self, *, username: str = "sandbox", api_key: str = "test-key") -> None:
        self.username, self.api_key = username, api_key
        self.sent: list[SeenSms] = []
        self.airtime: list[SeenAirtime] = []
        self._keys: set[str] = set()
        self.refuse: dict[str, tuple[int, str]] = {}
        self.requests = 0
        self.delay = 0.0  # seconds each SMS request is held after it has been seen
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def __enter__(self) -> AtStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                with standin._lock:
                    standin.requests += 1
                    failure = standin._failures.pop(0) if standin._failures else None
                if failure is not None:
                    return self._answer(failure, "text/plain", "Internal Server Error")
                if self.path == "/version1/airtime/send":
                    return self._airtime(form)
                if self.path != "/version1/messaging":
                    return self._answer(404, "text/plain", "Not Found")
                username = (form.get("username") or [""])[0]
                if username != standin.username or self.headers.get("apiKey") != standin.api_key:
                    return self._answer(401, "text/plain", "The supplied authentication is invalid")
                to = [n.strip() for n in (form.get("to") or [""])[0].split(",") if n.strip()]
                message = (form.get("message") or [""])[0]
                if not to or not message:
                    return self._answer(400, "text/plain", "Request is missing required form field")
                seen = SeenSms(
                    username, to, message, (form.get("from") or [None])[0],
                    (form.get("bulkSMSMode") or [None])[0],
                )  # fmt: skip
                with standin._lock:
                    standin.sent.append(seen)  # seen on arrival: it has left its sender
                if standin.delay:
                    time.sleep(standin.delay)
                recipients = []
                for number in to:
                    code, status = standin.refuse.get(number, (101, "Success"))
                    recipients.append(
                        {
                            "statusCode": code,
                            "number": number,
                            "status": status,
                            "cost": "KES 0.8000" if code == 101 else "0",
                            "messageId": f"ATXid_{uuid.uuid4().hex}" if code == 101 else "None",
                        }
                    )
                sent = sum(1 for r in recipients if r["statusCode"] == 101)
                body = {
                    "SMSMessageData": {
                        "Message": f"Sent to {sent}/{len(to)} Total Cost: KES {0.8 * sent:.4f}",
                        "Recipients": recipients,
                    }
                }
                return self._answer(201, "application/json", json.dumps(body))

            def _airtime(self, form: dict[str, list[str]]) -> None:
                username = (form.get("username") or [""])[0]
                if username != standin.username or self.headers.get("apiKey") != standin.api_key:
                    return self._answer(401, "text/plain", "The supplied authentication is invalid")
                key = self.headers.get("Idempotency-Key")
                recipients = json.loads((form.get("recipients") or ["[]"])[0])
                with standin._lock:
                    duplicate = key is not None and key in standin._keys
                    if key:
                        standin._keys.add(key)
                    if not duplicate:
                        standin.airtime.extend(
                            SeenAirtime(r["phoneNumber"], r["amount"], key) for r in recipients
                        )
                if duplicate:
                    body = {"errorMessage": "A duplicate request was received within the "
                            "last 5 minutes", "numSent": 0, "responses": []}  # fmt: skip
                    return self._answer(201, "application/json", json.dumps(body))
                responses = [
                    {"phoneNumber": r["phoneNumber"], "errorMessage": "None",
                     "amount": r["amount"], "status": "Sent", "discount": "KES 0.4000",
                     "requestId": f"ATQid_{uuid.uuid4().hex}"}
                    for r in recipients
                ]  # fmt: skip
                body = {"errorMessage": "None", "numSent": len(responses),
                        "totalAmount": "KES 20.0000", "totalDiscount": "KES 0.4000",
                        "responses": responses}  # fmt: skip
                return self._answer(201, "application/json", json.dumps(body))

            def _answer(self, status: int, content_type: str, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
