"""Write the golden bodies, and the receiver guide's example, from the code that sends.

The golden files are never edited by hand: ``fixtures.body`` builds each with the payload
builders the workflows and activities call, and this writes what it builds::

    .venv/bin/python -m tests.models.regenerate

``tests/models/test_payloads.py`` then compares what the builders produce with the files, so a
change in what is sent shows in the diff of tests/models/golden/ and docs/receiving.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from models.events import EventType
from tests.models import fixtures

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
GUIDE = ROOT / "docs" / "receiving.md"
#: The guide's example envelope: the one ```json block with an "attempt".
_EXAMPLE = re.compile(r'```json\n(\{\n  "attempt".*?)```', flags=re.DOTALL)


def guide_with_example(guide: str, body: bytes) -> str:
    """``guide`` with its example envelope's payload replaced by the one in ``body``."""
    match = _EXAMPLE.search(guide)
    if match is None:
        raise ValueError('docs/receiving.md has no example envelope (```json with "attempt")')
    example = json.loads(match.group(1))
    example["properties"] = json.loads(body)["properties"]
    text = json.dumps(example, indent=2, ensure_ascii=False) + "\n"
    return guide[: match.start(1)] + text + guide[match.end(1) :]


def main() -> None:
    for event_type in EventType:
        path = GOLDEN / f"{event_type.value}.json"
        path.write_bytes(fixtures.body(event_type))
        print(f"wrote {path.relative_to(ROOT)}")
    body = fixtures.body(EventType.INVOICE_CREATED)
    GUIDE.write_text(guide_with_example(GUIDE.read_text(), body))
    print(f"wrote the example envelope in {GUIDE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
