"""The worker image's HEALTHCHECK: the worker's metrics endpoint answers, or its process runs.

With ``BILLHOOK_METRICS_PORT`` set (docker-compose.yml sets 9464), the worker serves Prometheus
metrics there, and a 200 from it means the worker process is up and serving. Without it (no
metrics) the check falls back to PID 1 being ``worker.py``. Exits 0 when healthy, 1 when not,
with the reason on stdout (``docker inspect`` shows it). Standard library only: the image has
no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path


def check() -> str | None:
    """None when healthy, else what is wrong."""
    port = os.environ.get("BILLHOOK_METRICS_PORT", "").strip()
    if not port:
        cmdline = Path("/proc/1/cmdline").read_bytes().split(b"\0")
        return None if b"worker.py" in cmdline else "PID 1 is not worker.py"
    url = f"http://127.0.0.1:{port}/metrics"
    # No proxy: an HTTP_PROXY in the environment must not catch a request to this container.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=3) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except OSError as exc:
        return f"{url}: {exc}"


if __name__ == "__main__":
    problem = check()
    print(problem or "ok")
    sys.exit(1 if problem else 0)
