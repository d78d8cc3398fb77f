"""``billhook api-key``: a key printed once and stored hashed, listed as a table, revoked."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from tests.starter.conftest import Cli


def stored(cli: Cli) -> list[tuple[str, ...]]:
    with cli.store.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM apikey ORDER BY created_at"))
        return [tuple(str(value) for value in row) for row in rows]


def test_create_prints_the_key_once_and_stores_its_hash_only(cli: Cli) -> None:
    out = cli.ok("api-key", "create", "ci")
    first, key, hint = out.splitlines()
    assert first.startswith("created API key apikey_") and first.endswith("(ci)")
    assert key.startswith("bh_") and len(key) == 46
    assert hint == "it is shown this once; send it as: Authorization: Bearer <key>"
    [row] = stored(cli)
    assert key not in " ".join(row)
    assert hashlib.sha256(key.encode()).hexdigest() in row

    listing = cli.ok("api-key", "list")
    header, _, line = listing.splitlines()
    assert header.split() == ["id", "name", "key", "created", "status"]
    assert key not in listing and f"{key[:11]}…" in line and line.rstrip().endswith("active")


def test_revoke_and_refusals(cli: Cli) -> None:
    key_id = cli.ok("api-key", "create", "old").split()[3]
    assert cli.ok("api-key", "revoke", key_id).startswith(f"revoked API key {key_id} (old)")
    assert cli.ok("api-key", "list").splitlines()[2].rstrip().endswith("revoked")
    assert cli.ok("api-key", "revoke", key_id).startswith("revoked")  # again: a no-op

    missing = cli("api-key", "revoke", "apikey_nope")
    assert (missing.code, missing.err) == (
        1,
        "error: no API key apikey_nope; list them with: billhook api-key list\n",
    )
    before = stored(cli)
    for name in ("", "a\x1bb", "x" * 201):
        refused = cli("api-key", "create", name)
        assert refused.code == 1 and "API key" in refused.err
        assert refused.err.count("\n") == 1
    assert stored(cli) == before
    assert cli("api-key").code == 2
