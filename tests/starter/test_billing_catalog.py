"""``billhook metric|plan|alert ...``: the catalog from the command line, and refused input.

These commands only touch the catalog, so they run without Temporal.
"""

from __future__ import annotations

import re

import pytest

from tests.starter.conftest import Cli


def created_id(output: str, prefix: str) -> str:
    """The first ``<prefix><32 hex>`` id a command printed."""
    found = re.search(rf"\b{prefix}[0-9a-f]{{32}}\b", output)
    assert found, output
    return found.group(0)


def make_metric(cli: Cli) -> str:
    return created_id(cli.ok("metric", "create", "API calls", "--event", "api_call"), "metric_")


def make_plan(cli: Cli, metric_id: str, *options: str) -> str:
    out = cli.ok("plan", "create", "Pro", "--usage", f"{metric_id}:0.01:100", *options)
    return created_id(out, "plan_")


def test_metric_create_and_list(cli: Cli) -> None:
    out = cli.ok("metric", "create", "Storage", "--event", "gb_stored", "--aggregation", "sum",
                 "--property", "gb")  # fmt: skip
    metric_id = created_id(out, "metric_")
    assert "aggregation  sum" in out and "property     gb" in out
    listing = cli.ok("metric", "list")
    assert listing.splitlines()[0].split() == ["id", "name", "event", "aggregation", "property"]
    assert re.search(rf"^{metric_id}\s+Storage\s+gb_stored\s+sum\s+gb$", listing, re.MULTILINE)


def test_plan_versions_show_components_and_alerts(cli: Cli) -> None:
    metric_id = make_metric(cli)
    created = cli.ok("plan", "create", "Pro", "--period", "quarterly", "--flat", "49.99",
                     "--flat-timing", "in_arrears", "--usage", f"{metric_id}:0.015:100",
                     "--net-terms", "14")  # fmt: skip
    plan_id = created_id(created, "plan_")
    assert "flat charge  49.99 USD, in_arrears" in created
    assert re.search(rf"^{metric_id}\s+API calls\s+0.015 USD\s+100$", created, re.MULTILINE)

    # A version is described whole by its options: this one bills no usage.
    second = cli.ok("plan", "new-version", plan_id, "--flat", "59", "--period", "monthly")
    assert f"created version 2 of plan {plan_id} (Pro)" in second
    assert "usage components\n(none)" in second

    shown = cli.ok("plan", "show", plan_id)
    assert f"plan {plan_id} (Pro): 2 version(s)" in shown
    assert shown.index("version      1") < shown.index("version      2")
    assert "period       quarterly" in shown and "flat charge  59.00 USD, in_advance" in shown
    assert re.search(r"^net terms +14 days$", shown, re.M)  # version 1's
    listing = cli.ok("plan", "list")
    # Version 2 was given no --net-terms: it has none.
    assert re.search(rf"^{plan_id}\s+Pro\s+2\s+monthly\s+59.00 USD\s+-\s+-$", listing, re.M)


def test_alerts_on_a_version_and_on_the_newest(cli: Cli) -> None:
    metric_id = make_metric(cli)
    plan_id = make_plan(cli, metric_id)
    version_id = created_id(cli.ok("plan", "show", plan_id), "plan_version_")

    by_version = cli.ok("alert", "create", "--metric", metric_id, "--plan-version", version_id,
                        "--threshold", "1000")  # fmt: skip
    first = created_id(by_version, "usg_alert_")
    assert f"usage of {metric_id} reaching 1000 in a period" in by_version
    by_plan = cli.ok(
        "alert", "create", "--metric", metric_id, "--plan", plan_id, "--threshold", "5"
    )
    second = created_id(by_plan, "usg_alert_")

    listing = cli.ok("alert", "list", "--plan-version", version_id)
    assert [line.split()[0] for line in listing.splitlines()[2:]] == [first, second]
    assert re.search(rf"^{first}\s+Pro v1\s+{version_id}\s+{metric_id}\s+1000$", listing, re.M)
    shown = cli.ok("plan", "show", plan_id)
    assert re.search(rf"^{second}\s+{metric_id}\s+5$", shown, re.MULTILINE)


def refused(cli: Cli, *argv: str) -> str:
    """Run a command that must be refused in one line; that line."""
    result = cli(*argv)
    assert result.code == 1, result
    assert result.out == ""
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    return result.err


PLAN_REFUSALS = {
    "unknown metric": (["--usage", "metric_nope:0.01"], "unknown metric metric_nope"),
    "negative price": (["--usage", "{metric}:-1"], "is -1; give a number 0 or more"),
    "price not a number": (["--usage", "{metric}:cheap"], "'cheap' is not a number"),
    "usage form": (["--usage", "{metric}"], "is not METRIC_ID:UNIT_PRICE[:FREE_UNITS]"),
    "bad period": (["--period", "fortnightly"], "invalid billing period 'fortnightly'"),
    "flat not a number": (["--flat", "12,50"], "flat amount '12,50' is not a number"),
    "negative net terms": (["--net-terms", "-1"], "a whole number of days, 0 or more"),
    "currency": (["--currency", "usd"], "3 upper-case letters"),
}


@pytest.mark.parametrize("options,reason", PLAN_REFUSALS.values(), ids=PLAN_REFUSALS.keys())
def test_refused_plans_change_nothing(cli: Cli, options: list[str], reason: str) -> None:
    metric_id = make_metric(cli)
    before = cli.ok("plan", "list")
    argv = [option.format(metric=metric_id) for option in options]
    assert reason in refused(cli, "plan", "create", "Pro", *argv)
    assert cli.ok("plan", "list") == before == "(none)\n"


def test_refused_alerts_and_unknown_ids(cli: Cli) -> None:
    metric_id = make_metric(cli)
    other = make_metric(cli)
    plan_id = make_plan(cli, metric_id)
    alert = ["alert", "create", "--plan", plan_id, "--threshold"]
    assert "is not a usage component" in refused(cli, *alert, "10", "--metric", other)
    assert "give a number greater than 0" in refused(cli, *alert, "0", "--metric", metric_id)
    assert "'lots' is not a number" in refused(cli, *alert, "lots", "--metric", metric_id)
    assert cli.ok("alert", "list") == "(none)\n"
    assert "no plan plan_nope" in refused(cli, "plan", "show", "plan_nope")
    assert "no plan plan_nope" in refused(cli, "plan", "new-version", "plan_nope")
    assert "no customer nobody" in refused(cli, "customer", "show", "nobody")
    assert "no invoice invoice_nope" in refused(cli, "invoice", "show", "invoice_nope")
    assert "give --property" in refused(
        cli, "metric", "create", "Bytes", "--event", "upload", "--aggregation", "sum"
    )


def test_commands_needing_temporal_say_when_it_is_unreachable(cli: Cli) -> None:
    # The conftest points Temporal at a port where nothing listens.
    assert "cannot reach Temporal at 127.0.0.1:1" in refused(cli, "customer", "create", "acme")
    assert cli.ok("customer", "list") == "(none)\n"
    bad_zone = refused(cli, "customer", "create", "acme", "--timezone", "Mars/Olympus")
    assert "unknown timezone 'Mars/Olympus'" in bad_zone
    assert "has no @" in refused(cli, "customer", "create", "acme", "--email", "nobody")
    assert "whole number of days" in refused(cli, "customer", "create", "acme", "--net-terms", "x")
