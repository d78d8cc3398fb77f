"""A billhook webhook receiver: verifies every request with the svix library, answers 204.

    pip install svix
    WEBHOOK_SECRET=whsec_... PORT=9000 python receiver.py

Environment: WEBHOOK_SECRET (the endpoint's signing secret, required), PORT (default 9000; 0
picks a free one), HOST (default 127.0.0.1), EXIT_AFTER=N (stop after N requests; for tests).
Only the standard library's http.server besides svix; in a real app the same three steps go in
your framework's handler: read the raw body, verify it, then parse it.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from svix.webhooks import Webhook, WebhookVerificationError

SECRET = os.environ.get("WEBHOOK_SECRET", "")
if not SECRET:
    sys.exit("set WEBHOOK_SECRET to the endpoint's signing secret (whsec_...)")
webhook = Webhook(SECRET)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        # 1. The raw bytes, exactly as sent: the signature covers them, not a re-serialization.
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        # 2. Verify before parsing: signature, and a timestamp at most 5 minutes off.
        try:
            webhook.verify(body, dict(self.headers))
        except WebhookVerificationError as err:
            print(f"rejected: {err}", flush=True)
            self.answer(400)
            return
        # 3. Only now parse it. De-duplicate on svix-id (the same on every attempt and resend).
        event = json.loads(body)
        msg_id = self.headers["svix-id"]
        event_type = event["properties"]["event_type"]
        print(f"verified {event_type} {msg_id} attempt {event['attempt']}", flush=True)
        self.answer(204)  # any 2xx within 15 seconds; do slow work after answering

    def answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the output to one line per request


def main() -> None:
    host = os.environ.get("HOST", "127.0.0.1")
    server = HTTPServer((host, int(os.environ.get("PORT", "9000"))), Handler)
    print(f"listening on http://{host}:{server.server_address[1]}/", flush=True)
    exit_after = int(os.environ.get("EXIT_AFTER", "0"))
    with server:
        if exit_after:
            for _ in range(exit_after):  # HTTP/1.0: one request per connection
                server.handle_request()
        else:
            server.serve_forever()


if __name__ == "__main__":
    main()
