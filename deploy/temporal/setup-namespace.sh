#!/bin/sh
# One-shot job (temporalio/admin-tools): wait until the Temporal cluster is healthy, create
# billhook's namespace, and register billhook's six search attributes (models/search.py).
# Safe to repeat: an existing namespace or attribute is left as it is.
set -eu

namespace=${NAMESPACE:?}
host=${TEMPORAL_ADDRESS%:*}
port=${TEMPORAL_ADDRESS##*:}
# Temporal's own compose dials the IPv4 address: the name may also resolve to an IPv6 one
# that the server does not listen on.
ip=$(getent ahosts "$host" | awk '/STREAM/ { print $1; exit }')
address="${ip:-$host}:$port"

retry() {  # TRIES WHAT COMMAND...: run COMMAND every 2 s until it succeeds, TRIES times at most
    tries=$1 what=$2
    shift 2
    until "$@"; do
        tries=$((tries - 1))
        if [ "$tries" -le 0 ]; then
            echo "error: $what${output:+: $output}" >&2  # output: the last register's
            exit 1
        fi
        sleep 2
    done
}

healthy() {
    temporal operator cluster health --address "$address" >/dev/null 2>&1
}

retry 90 "Temporal at $TEMPORAL_ADDRESS is not healthy after 3 minutes" healthy

if temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
    echo "namespace $namespace exists"
else
    temporal operator namespace create --address "$address" --namespace "$namespace" \
        --retention "${RETENTION:-72h}"
fi

register() {  # NAME: create the Keyword attribute NAME; one that already exists is fine
    output=$(temporal operator search-attribute create --address "$address" \
        --namespace "$namespace" --name "$1" --type Keyword 2>&1) && return 0
    case $output in
        *"different type"*) echo "error: $output" >&2; exit 1 ;;  # a name billhook cannot use
        *"already exists"*) return 0 ;;
    esac
    temporal operator search-attribute list --address "$address" --namespace "$namespace" \
        2>/dev/null | grep -qw "$1"
}

# A new namespace reaches every server role's cache within seconds: until then, retry.
for name in CustomerId SubscriptionId InvoiceId BillingStatus EventType EndpointId; do
    retry 30 "search attribute $name" register "$name"
done
echo "namespace $namespace has billhook's search attributes"
