"""Hostile input on the command line: each refused with one line, exit 1 or 2, nothing changed.

Every case runs against a store seeded with one of everything, and compares every row of every
table before and after. Temporal is unreachable in these tests (``127.0.0.1:1``), so a command
that got as far as starting a workflow would say so: the refusals below all come first, so no
workflow is started. Text that is merely unusual (SQL, quotes, any script, emoji) is legitimate
in a name and is stored verbatim: ``test_legitimate_text_is_stored_verbatim``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from models.billing import CustomerSnapshot
from store.catalog import Catalog, PlanVersionSpec
from tests.starter.conftest import UNREACHABLE_TEMPORAL, Cli, use_environment

URL = "https://hooks.example.com/billing"
EVENTS = ["--events", "invoice.paid"]
LONG = "x" * 100_000
Snapshot = dict[str, list[tuple[object, ...]]]


def snapshot(cli: Cli) -> Snapshot:
    """Every row of every table of the store, in a stable order."""
    engine = cli.store.engine
    with engine.connect() as connection:
        return {
            table: sorted(
                (tuple(row) for row in connection.execute(sa.text(f'SELECT * FROM "{table}"'))),
                key=repr,
            )
            for table in sorted(sa.inspect(connection).get_table_names())
        }


@pytest.fixture
def seeded(cli: Cli) -> dict[str, str]:
    """One endpoint, metric, plan and customer, so that refusals have rows to leave alone."""
    endpoint = re.search(r"whend_\w+", cli.ok("endpoint", "create", URL, *EVENTS))
    metric = re.search(r"metric_\w+", cli.ok("metric", "create", "calls", "--event", "api_call"))
    assert endpoint and metric
    plan = re.search(r"plan_[0-9a-f]+", cli.ok("plan", "create", "Pro", "--flat", "10"))
    assert plan
    # The command line creates customers through their workflow; the catalog is where it lands.
    Catalog(cli.store.engine).create_customer(
        CustomerSnapshot(customer_id="acme", name="Acme"), datetime.now(UTC)
    )
    return {"endpoint": endpoint[0], "metric": metric[0], "plan": plan[0], "customer": "acme"}


#: id -> (argv, a part of the one-line error). ``{endpoint}`` etc. name the seeded objects.
REFUSED: dict[str, tuple[list[str], str]] = {
    # Endpoint URLs -------------------------------------------------------------------------
    "url http://2130706433/": (
        ["endpoint", "create", "http://2130706433/", *EVENTS],
        "127.0.0.1 written in a shorthand, octal, hex or decimal form",
    ),
    "url http://0x7f.1/": (["endpoint", "create", "http://0x7f.1/", *EVENTS], "dotted decimal"),
    "url http://0177.0.0.1/": (
        ["endpoint", "create", "http://0177.0.0.1/", *EVENTS],
        "dotted decimal",
    ),
    "url http://127.1/": (["endpoint", "create", "http://127.1/", *EVENTS], "dotted decimal"),
    "url http://0xa9fea9fe/": (
        ["endpoint", "create", "http://0xa9fea9fe/", *EVENTS],
        "169.254.169.254",
    ),
    "url http://[::ffff:127.0.0.1]/": (
        ["endpoint", "create", "http://[::ffff:127.0.0.1]/", *EVENTS],
        "stands for the IPv4 address 127.0.0.1",
    ),
    "url http://[64:ff9b::a9fe:a9fe]/ (NAT64)": (
        ["endpoint", "create", "http://[64:ff9b::a9fe:a9fe]/", *EVENTS],
        "169.254.169.254",
    ),
    "url http://169.254.169.254/latest/meta-data": (
        ["endpoint", "create", "http://169.254.169.254/latest/meta-data", *EVENTS],
        "can never be a receiver",
    ),
    "url http://[fd00:ec2::254]/": (
        ["endpoint", "create", "http://[fd00:ec2::254]/", *EVENTS],
        "can never be a receiver",
    ),
    "url http://0.0.0.0/": (["endpoint", "create", "http://0.0.0.0/", *EVENTS], "unspecified"),
    "url http://224.0.0.1/": (["endpoint", "create", "http://224.0.0.1/", *EVENTS], "multicast"),
    "url user@ host trick to metadata": (
        ["endpoint", "create", "http://hooks.example.com@169.254.169.254/", *EVENTS],
        "169.254.169.254",
    ),
    "url 10,000 characters": (
        ["endpoint", "create", URL + "/" + "a" * 10_000, *EVENTS],
        "give at most 2048",
    ),
    "url NUL in host": (
        ["endpoint", "create", "https://hooks\x00.example.com/", *EVENTS],
        "U+0000",
    ),
    "url BEL in path": (["endpoint", "create", URL + "/\x07", *EVENTS], "U+0007"),
    "url ESC in path": (["endpoint", "create", URL + "/\x1b[2J", *EVENTS], "U+001B"),
    "url bidi override": (["endpoint", "create", URL + "/\u202egpj.exe", *EVENTS], "U+202E"),
    "url newline": (["endpoint", "create", URL + "\nX-Injected: 1", *EVENTS], "U+000A"),
    "url space in host": (
        ["endpoint", "create", "https://hooks example.com/", *EVENTS],
        "whitespace",
    ),
    "url port 99999": (
        ["endpoint", "create", "https://hooks.example.com:99999/", *EVENTS],
        "Port out of range",
    ),
    "url unclosed [": (["endpoint", "create", "https://[::1/", *EVENTS], "cannot be parsed"),
    "url javascript:": (["endpoint", "create", "javascript:alert(1)", *EVENTS], "http or https"),
    "url file:///etc/passwd": (
        ["endpoint", "create", "file:///etc/passwd", *EVENTS],
        "http or https",
    ),
    "url 64-character label": (
        ["endpoint", "create", f"https://{'a' * 64}.example.com/", *EVENTS],
        "invalid host name",
    ),
    "url empty label": (
        ["endpoint", "create", "https://hooks..example.com/", *EVENTS],
        "invalid host name",
    ),
    "update --url http://0x7f.1/": (
        ["endpoint", "update", "{endpoint}", "--url", "http://0x7f.1/"],
        "dotted decimal",
    ),
    # Endpoint names, events and ids --------------------------------------------------------
    "endpoint --name ESC[31m": (
        ["endpoint", "create", URL, *EVENTS, "--name", "\x1b[31mred"],
        "U+001B",
    ),
    "endpoint --name bidi": (
        ["endpoint", "create", URL, *EVENTS, "--name", "abc\u202edcb"],
        "U+202E",
    ),
    "endpoint --name 100,000 characters": (
        ["endpoint", "create", URL, *EVENTS, "--name", LONG],
        "at most 200",
    ),
    "endpoint --name blank": (["endpoint", "create", URL, *EVENTS, "--name", "   "], "blank"),
    "update --name NUL": (["endpoint", "update", "{endpoint}", "--name", "a\x00b"], "U+0000"),
    "--events NUL": (
        ["endpoint", "create", URL, "--events", "invoice.paid\x00"],
        "unknown event type",
    ),
    "endpoint id SQL": (
        ["endpoint", "show", "'; DROP TABLE endpoint; --"],
        "no endpoint '; DROP TABLE endpoint; --",
    ),
    "endpoint id ESC": (["endpoint", "disable", "whend_\x1b[2J"], "no endpoint whend_\\u001b[2J"),
    "endpoint id 100,000 characters": (["endpoint", "delete", LONG], "no endpoint xxx"),
    "recover --since 9999999999d": (
        ["endpoint", "recover", "{endpoint}", "--since", "9999999999d"],
        "before the year 1",
    ),
    "recover --since 2024-13-01": (
        ["endpoint", "recover", "{endpoint}", "--since", "2024-13-01"],
        "neither an ISO 8601 time",
    ),
    "recover --since 0001-01-01T00:00+05:00": (
        ["endpoint", "recover", "{endpoint}", "--since", "0001-01-01T00:00+05:00"],
        "neither",
    ),
    # Customers -----------------------------------------------------------------------------
    "customer --timezone Mars/Olympus": (
        ["customer", "create", "c1", "--timezone", "Mars/Olympus"],
        "unknown timezone",
    ),
    "customer --timezone ../../etc/passwd": (
        ["customer", "create", "c1", "--timezone", "../../etc/passwd"],
        "unknown timezone",
    ),
    "customer --timezone 10,000 characters": (
        ["customer", "create", "c1", "--timezone", "A" * 10_000],
        "unknown timezone",
    ),
    "customer --timezone UTC+NUL": (
        ["customer", "create", "c1", "--timezone", "UTC\x00"],
        "unknown timezone",
    ),
    "customer --currency usd": (
        ["customer", "create", "c1", "--currency", "usd"],
        "3 upper-case letters",
    ),
    "customer --net-terms 1e400": (
        ["customer", "create", "c1", "--net-terms", "1e400"],
        "whole number of days",
    ),
    "customer --net-terms 10^23": (
        ["customer", "create", "c1", "--net-terms", "9" * 23],
        "whole number of days",
    ),
    "customer --net-terms 99999": (
        ["customer", "create", "c1", "--net-terms", "99999"],
        "at most 3650 days",
    ),
    "customer --net-terms -1": (["customer", "create", "c1", "--net-terms", "-1"], "0 or more"),
    "customer --email 1000 characters": (
        ["customer", "create", "c1", "--email", "a@" + "b" * 998],
        "at most 254",
    ),
    "customer --email NUL": (["customer", "create", "c1", "--email", "a@b\x00"], "U+0000"),
    "customer --email space": (
        ["customer", "create", "c1", "--email", "a b@example.com"],
        "whitespace",
    ),
    "customer --name bidi": (["customer", "create", "c1", "--name", "\u202eEMCA"], "U+202E"),
    "customer --name 100,000 characters": (
        ["customer", "create", "c1", "--name", LONG],
        "at most 200",
    ),
    "customer --address without city": (
        ["customer", "create", "c1", "--address", "line1=1 Main St", "--address", "country=US"],
        "--address: has no city",
    ),
    "customer --address unknown key": (
        ["customer", "create", "c1", "--address", "street=1 Main St"],
        "--address: 'street=1 Main St' is not KEY=VALUE",
    ),
    "customer --billing-address country name": (
        [
            "customer",
            "create",
            "c1",
            "--billing-address",
            "line1=1 Main St",
            "--billing-address",
            "city=Paris",
            "--billing-address",
            "country=France",
        ],
        "two-letter ISO 3166 code",
    ),
    "customer --shipping-address NUL": (
        [
            "customer",
            "create",
            "c1",
            "--shipping-address",
            "line1=a\x00b",
            "--shipping-address",
            "city=Paris",
            "--shipping-address",
            "country=FR",
        ],
        "U+0000",
    ),
    "customer id NUL": (["customer", "create", "a\x00b"], "U+0000"),
    "customer id newline": (["customer", "create", "a\nb"], "U+000A"),
    "customer id 101 characters": (["customer", "create", "c" * 101], "1 to 100 characters"),
    "customer id blank": (["customer", "create", "   "], "not all blank"),
    "customer id taken": (["customer", "create", "{customer}"], "exists already"),
    # Amounts -------------------------------------------------------------------------------
    "--flat NaN": (["plan", "create", "P", "--flat", "NaN"], "not a number"),
    "--flat sNaN": (["plan", "create", "P", "--flat", "sNaN"], "not a number"),
    "--flat Infinity": (["plan", "create", "P", "--flat", "Infinity"], "not a number"),
    "--flat -Infinity": (["plan", "create", "P", "--flat=-Infinity"], "not a number"),
    "--flat 1e400": (["plan", "create", "P", "--flat", "1e400"], "too large"),
    "--flat 1e14": (["plan", "create", "P", "--flat", "1e14"], "too large"),
    "--flat -1": (["plan", "create", "P", "--flat=-1"], "0 or more"),
    "--flat 30 decimals": (
        ["plan", "create", "P", "--flat", "0." + "0" * 29 + "1"],
        "more than 6 decimal places",
    ),
    "--flat 1e-999999999": (
        ["plan", "create", "P", "--flat", "1e-999999999"],
        "more than 6 decimal places",
    ),
    "--flat 1_000": (["plan", "create", "P", "--flat", "1_000"], "not a number"),
    "--flat full-width digits": (["plan", "create", "P", "--flat", "\uff11\uff12"], "not a number"),
    "--flat 12,50": (["plan", "create", "P", "--flat", "12,50"], "not a number"),
    "--usage price NaN": (["plan", "create", "P", "--usage", "{metric}:NaN"], "not a number"),
    "--usage free units -5": (["plan", "create", "P", "--usage", "{metric}:1:-5"], "0 or more"),
    "--usage unknown metric": (
        ["plan", "create", "P", "--usage", "metric_nope:1"],
        "unknown metric",
    ),
    "--usage no price": (["plan", "create", "P", "--usage", "{metric}"], "METRIC_ID:UNIT_PRICE"),
    "--net-terms 10^20": (["plan", "create", "P", "--net-terms", "9" * 20], "whole number of days"),
    "--currency US$": (["plan", "create", "P", "--currency", "US$"], "3 upper-case letters"),
    "new-version --flat NaN": (["plan", "new-version", "{plan}", "--flat", "NaN"], "not a number"),
    "alert --threshold Infinity": (
        ["alert", "create", "--metric", "{metric}", "--plan", "{plan}", "--threshold", "Infinity"],
        "not a number",
    ),
    "alert --threshold 0": (
        ["alert", "create", "--metric", "{metric}", "--plan", "{plan}", "--threshold", "0"],
        "greater than 0",
    ),
    "usage quantity NaN": (["usage", "record", "sub_nope", "{metric}", "NaN"], "not a number"),
    "usage quantity 1e400": (["usage", "record", "sub_nope", "{metric}", "1e400"], "too large"),
    "usage quantity -5": (["usage", "record", "sub_nope", "{metric}", "-5"], "0 or more"),
    "usage quantity 30 decimals": (
        ["usage", "record", "sub_nope", "{metric}", "1." + "1" * 30],
        "more than 6 decimal places",
    ),
    "usage --key ESC": (
        ["usage", "record", "sub_nope", "{metric}", "1", "--key", "\x1b]0;x"],
        "U+001B",
    ),
    # Periods and dates ---------------------------------------------------------------------
    "--period P99999999999Y": (["plan", "create", "P", "--period", "P99999999999Y"], "too long"),
    "--period P11Y": (["plan", "create", "P", "--period", "P11Y"], "at most 10 years"),
    "--period PT0S": (["plan", "create", "P", "--period", "PT0S"], "longer than zero"),
    "--period PT0.0000001S": (
        ["plan", "create", "P", "--period", "PT0.0000001S"],
        "invalid billing period",
    ),
    "--period P-1M": (["plan", "create", "P", "--period", "P-1M"], "invalid billing period"),
    "--start 2024-02-30": (
        [
            "subscription",
            "create",
            "--customer",
            "{customer}",
            "--plan",
            "{plan}",
            "--start",
            "2024-02-30",
        ],
        "not an ISO 8601 time",
    ),
    "--start 2024-05-01T25:00": (
        [
            "subscription",
            "create",
            "--customer",
            "{customer}",
            "--plan",
            "{plan}",
            "--start",
            "2024-05-01T25:00",
        ],
        "not an ISO 8601 time",
    ),
    "--start 0001-01-01T00:00+05:00": (
        [
            "subscription",
            "create",
            "--customer",
            "{customer}",
            "--plan",
            "{plan}",
            "--start",
            "0001-01-01T00:00+05:00",
        ],
        "not an ISO 8601 time",
    ),
    "--start 9999-12-31": (
        [
            "subscription",
            "create",
            "--customer",
            "{customer}",
            "--plan",
            "{plan}",
            "--start",
            "9999-12-31",
        ],
        "more than 100 years ahead",
    ),
    "--start 1970-01-01": (
        [
            "subscription",
            "create",
            "--customer",
            "{customer}",
            "--plan",
            "{plan}",
            "--start",
            "1970-01-01",
        ],
        "ended its first period",
    ),
    # Names and metadata --------------------------------------------------------------------
    "plan name NUL": (["plan", "create", "\x00"], "U+0000"),
    "plan name 100,000 characters": (["plan", "create", LONG], "at most 200"),
    "metric name bidi": (["metric", "create", "calls\u2066", "--event", "e"], "U+2066"),
    "metric --event NUL": (["metric", "create", "m", "--event", "api\x00call"], "U+0000"),
    "metric --property empty": (
        ["metric", "create", "m", "--event", "e", "--aggregation", "sum", "--property", " "],
        "empty",
    ),
    "invoice pay --external-id 100,000 characters": (
        ["invoice", "pay", "invoice_nope", "--external-id", LONG],
        "at most 200",
    ),
    "invoice pay --external-status ESC": (
        ["invoice", "pay", "invoice_nope", "--external-status", "\x1b[5m"],
        "U+001B",
    ),
    "invoice id SQL": (["invoice", "void", "x' OR '1'='1"], "no invoice x' OR '1'='1"),
    # Usage errors (argparse): one line too, exit 2 -----------------------------------------
    "message list --limit 10^23": (["message", "list", "--limit", "9" * 23], "1 to 100000"),
    "attempt list --limit 0": (["attempt", "list", "--limit", "0"], "1 to 100000"),
    "message list --limit Arabic digits": (
        ["message", "list", "--limit", "\u0661\u0662"],
        "1 to 100000",
    ),
    "trigger --wait NaN": (["trigger", "invoice.paid", "--wait", "NaN"], "number of seconds"),
    "trigger --wait inf": (["trigger", "invoice.paid", "--wait", "inf"], "number of seconds"),
    "trigger unknown type": (["trigger", "invoice.voided"], "invalid choice"),
    "listen --port 99999": (["listen", "--port", "99999", "--secret", "whsec_x"], "TCP port"),
}


@pytest.mark.parametrize("argv,reason", REFUSED.values(), ids=REFUSED.keys())
def test_refused_with_one_line_and_nothing_changed(
    cli: Cli, seeded: dict[str, str], argv: list[str], reason: str
) -> None:
    before = snapshot(cli)

    result = cli(*(arg.format(**seeded) for arg in argv))

    assert result.code in (1, 2), result
    assert result.out == ""
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert reason in result.err
    assert "Traceback" not in result.err and "\x1b" not in result.err and "\x00" not in result.err
    assert len(result.err) < 1100  # a 100,000-character input is not echoed whole
    assert "Temporal" not in result.err  # refused before any workflow could be started
    assert snapshot(cli) == before


CREDENTIALS = {
    "create user:password@": ["endpoint", "create", "https://alice:hunter2@hooks.example.com/"],
    "create token@": ["endpoint", "create", "https://tok_hunter2@hooks.example.com/"],
    "update user:password@": ["endpoint", "update", "{endpoint}", "--url",
                              "https://alice:hunter2@hooks.example.com/"],
}  # fmt: skip


@pytest.mark.parametrize("argv", CREDENTIALS.values(), ids=CREDENTIALS.keys())
def test_userinfo_refused_in_production(
    cli: Cli, seeded: dict[str, str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    before = snapshot(cli)
    use_environment(monkeypatch, "production")

    extra = EVENTS if argv[1] == "create" else []
    result = cli(*(arg.format(**seeded) for arg in argv), *extra)

    assert result.code == 1 and result.out == ""
    assert result.err.startswith("error: ") and result.err.count("\n") == 1
    assert "credentials" in result.err and "hunter2" not in result.err
    assert snapshot(cli) == before


LEGITIMATE = {
    "SQL in a plan name": (["plan", "create", "Robert'); DROP TABLE plan; --"], "plan"),
    "quotes and % in a metric name": (
        ["metric", "create", "50% \"calls\" 'n' \\x", "--event", "e"], "metric"),
    "CJK and emoji in a metric name": (
        ["metric", "create", "計量 😀 ζ", "--event", "ユーザー"], "metric"),
    "SQL in an endpoint name": (
        ["endpoint", "create", URL, *EVENTS, "--name", "x' OR 1=1; --"], "endpoint"),
    "Arabic in an endpoint name": (
        ["endpoint", "create", URL, *EVENTS, "--name", "خطافات"], "endpoint"),
    "an IDN host": (["endpoint", "create", "https://bücher.example/hooks", *EVENTS], "endpoint"),
}  # fmt: skip


@pytest.mark.parametrize("argv,group", LEGITIMATE.values(), ids=LEGITIMATE.keys())
def test_legitimate_text_is_stored_verbatim(
    cli: Cli, seeded: dict[str, str], argv: list[str], group: str
) -> None:
    text = argv[-1] if argv[-2] == "--name" else argv[2]
    before = snapshot(cli)

    cli.ok(*argv)

    after = snapshot(cli)
    assert after.keys() == before.keys()  # every table is still there
    added = {table: set(after[table]) - set(before[table]) for table in after}
    assert [row for row in added[group] if text in row], added  # the text, exactly as given
    assert text in cli.ok(group, "list")


def test_sql_and_unicode_customer_name_stored_verbatim(cli: Cli) -> None:
    # The command line creates customers through Temporal; the catalog is where they land.
    name, email = 'Zoë "Bobby" Tables\'); DROP TABLE customer; -- 東京', "zoë@例え.jp"
    customer = CustomerSnapshot(customer_id="o'brien; --", name=name, email=email)
    Catalog(cli.store.engine).create_customer(customer, datetime.now(UTC))

    listing = cli.ok("customer", "list")
    assert name in listing and email in listing
    assert Catalog(cli.store.engine).get_customer("o'brien; --").name == name


def test_plan_with_sql_name_keeps_every_version_working(cli: Cli) -> None:
    name = "p'); DELETE FROM planversion; --"
    plan = Catalog(cli.store.engine).create_plan(name, PlanVersionSpec(), datetime.now(UTC))
    assert f"({name}): 1 version(s)" in cli.ok("plan", "show", plan.plan_id)


# A few through a real process: the exit code and stderr a shell sees.
BILLHOOK = Path(sys.executable).with_name("billhook")
SUBPROCESS = {
    "url http://0x7f.1/": (["endpoint", "create", "http://0x7f.1/", *EVENTS], 1),
    "url 10,000 characters": (["endpoint", "create", URL + "/" + "a" * 10_000, *EVENTS], 1),
    "--flat NaN": (["plan", "create", "P", "--flat", "NaN"], 1),
    "customer --name ESC": (["customer", "create", "c1", "--name", "\x1b[31mred"], 1),
    "--since 9999999999d": (["endpoint", "recover", "whend_x", "--since", "9999999999d"], 2),
    "--limit 10^23": (["message", "list", "--limit", "9" * 23], 2),
}


@pytest.mark.parametrize("argv,code", SUBPROCESS.values(), ids=SUBPROCESS.keys())
def test_refused_in_a_real_process(
    cli: Cli, seeded: dict[str, str], tmp_path: Path, argv: list[str], code: int
) -> None:
    before = snapshot(cli)
    env = {
        **os.environ,
        "BILLHOOK_DATABASE_URL": cli.database_url,
        "BILLHOOK_TEMPORAL_ADDRESS": UNREACHABLE_TEMPORAL,
        "BILLHOOK_ENVIRONMENT": "development",
    }

    done = subprocess.run(
        [str(BILLHOOK), *argv], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )

    assert done.returncode == code, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr and "\x1b" not in done.stderr
    assert snapshot(cli) == before
