#!/bin/sh
# One-shot job (temporalio/admin-tools): create Temporal's databases and billhook's, and bring
# Temporal's schemas to the version of this image, as Temporal's own postgres compose does.
#
# Safe to repeat, and what upgrades Temporal: creating an existing database is a no-op,
# setup-schema leaves a versioned schema alone, and update-schema applies only the missing
# versions. Connection settings come from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD.
set -eu

schemas=/etc/temporal/schema/postgresql/v12

setup() {  # DATABASE SCHEMA: create DATABASE and migrate it to $schemas/SCHEMA's newest version
    temporal-sql-tool --db "$1" create
    temporal-sql-tool --db "$1" setup-schema -v 0.0
    temporal-sql-tool --db "$1" update-schema -d "$schemas/$2/versioned"
}

setup temporal temporal
setup temporal_visibility visibility
# billhook's store gets its own database; its tables belong to `billhook db upgrade`.
temporal-sql-tool --db billhook create
echo "databases temporal, temporal_visibility and billhook are ready"
