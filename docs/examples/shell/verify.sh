#!/usr/bin/env bash
# Verify a billhook webhook with nothing but bash, base64 and openssl: the whole algorithm.
#
#   WEBHOOK_SECRET=whsec_... ./verify.sh "$SVIX_ID" "$SVIX_TIMESTAMP" ["$SVIX_SIGNATURE"] < body
#
# Prints the v1 signature of the body read from stdin (the exact bytes received). Given the
# svix-signature header as the third argument, it also checks the request: exit 0 when one of
# the header's space-separated signatures matches and the timestamp is within 5 minutes of
# now, exit 1 otherwise. For illustration: in an application, use a Svix or Standard Webhooks
# library, which also compares in constant time.
set -euo pipefail

msg_id=$1 timestamp=$2 header=${3-}
secret=${WEBHOOK_SECRET:?set WEBHOOK_SECRET to the endpoint signing secret (whsec_...)}

# The key is the base64 after "whsec_", decoded (a Lotus secret's 32 hex chars decode the same way).
key_b64=${secret#whsec_}
while (( ${#key_b64} % 4 )); do key_b64+="="; done
key_hex=$(printf '%s' "$key_b64" | base64 -d | od -An -v -tx1 | tr -d ' \n')

# HMAC-SHA256 over "{id}.{timestamp}.{body}", base64-encoded, prefixed with "v1,".
signature="v1,$({ printf '%s.%s.' "$msg_id" "$timestamp"; cat; } \
  | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | base64)"
echo "$signature"

[[ -z $header ]] && exit 0
if [[ ! $timestamp =~ ^[0-9]+$ ]]; then
  echo "rejected: the timestamp is not whole Unix seconds" >&2
  exit 1
fi
now=$(date +%s)
if (( 10#$timestamp < now - 300 || 10#$timestamp > now + 300 )); then
  echo "rejected: timestamp outside the 5-minute tolerance" >&2
  exit 1
fi
read -ra candidates <<< "$header"  # one "v1,<base64>" per valid secret: two during a rotation
for candidate in "${candidates[@]}"; do
  [[ $candidate == "$signature" ]] && exit 0
done
echo "rejected: no matching signature" >&2
exit 1
