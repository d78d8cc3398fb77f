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

tries=0
until temporal operator cluster health --address "$address" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 90 ]; then
        echo "error: Temporal at $TEMPORAL_ADDRESS is not healthy after 3 minutes" >&2
        exit 1
    fi
    sleep 2
done

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
    tries=0
    until register "$name"; do
        tries=$((tries + 1))
        if [ "$tries" -ge 30 ]; then
            echo "error: search attribute $name: $output" >&2
            exit 1
        fi
        sleep 2
    done
done
echo "namespace $namespace has billhook's search attributes"
