"""``docs/examples/python/client_example.py`` runs as documented, against the dev server."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from config import Settings
from tests.conftest import RunWorker

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "python" / "client_example.py"


async def test_the_client_example_runs(
    dev_env: WorkflowEnvironment, dev_settings: Settings, run_worker: RunWorker, tmp_path: Path
) -> None:
    environment = {
        **os.environ,
        "BILLHOOK_DATABASE_URL": dev_settings.database_url,
        "BILLHOOK_TEMPORAL_ADDRESS": dev_settings.temporal_address,
        "BILLHOOK_TASK_QUEUE": dev_settings.task_queue,
        "BILLHOOK_ENVIRONMENT": "development",
    }
    async with run_worker(dev_env.client, dev_settings):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLE),
            cwd=tmp_path,  # no stray .env file
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert re.fullmatch(r"customer acme-\w{6}, announced by msg_[0-9a-f]{32}", lines[0])
    assert re.fullmatch(r"subscription sub_[0-9a-f]{32}, period ends \d{4}-\d\d-\d\d", lines[1])
    assert lines[2:4] == [
        "usage accepted: True, this period: 150",
        "usage accepted: False, this period: 150",
    ]
    assert lines[4].startswith("refused: metric metric_nope is not billed by plan plan_")
    assert re.fullmatch(r"invoice \d{6}-\d{6} \(49.99 USD\) is paid", lines[5])
    assert lines[6] == "subscription ended, 2 invoice(s)"
