#!/bin/sh
# Keeps Vault unsealed, and initialises it once when operators have configured PGP keys.
#
# Key material never reaches a log, the command line or the container's disk:
# - unseal keys are read from a Swarm secret (in-memory tmpfs) and posted from a
#   0600 file on /dev/shm (tmpfs) that is removed straight after;
# - Vault's init response is requested with pgp_keys and root_token_pgp_key, so it
#   holds only ciphertext; it is written 0600 to the init volume for operators to
#   collect, and never printed.
# Only busybox tools are used: the hashicorp/vault image has no curl or jq. Timeouts come
# from `timeout`, not `wget -T`, which crashes some busybox builds (seen with 1.35).
set -u
umask 077

VAULT_ADDR="${VAULT_ADDR:-http://vault:8200}"
KEYS_FILE="${UNSEAL_KEYS_FILE:-/run/secrets/vault-unseal-keys}"
INIT_REQUEST="${INIT_REQUEST_FILE:-/etc/vault-unsealer/init-request.json}"
INIT_DIR="${INIT_DIR:-/vault/init}"
INTERVAL="${CHECK_INTERVAL_S:-15}"
SHM_DIR="${SHM_DIR:-/dev/shm}"

log() { printf '%s vault-unsealer: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

seal_status() { timeout 5 wget -q -O - "$VAULT_ADDR/v1/sys/seal-status" 2>/dev/null; }

field() { # field NAME JSON -> true | false | ""
  printf '%s' "$2" | tr -d ' \n' | grep -o "\"$1\":[a-z]*" | cut -d: -f2
}

initialise() {
  if [ ! -s "$INIT_REQUEST" ]; then
    log "Vault is not initialised and no PGP keys are configured: initialise it by hand (docs/vault.md)"
    return
  fi
  out="$INIT_DIR/init-response-$(date -u +%Y%m%dT%H%M%SZ).json"
  if timeout 30 wget -q -O "$out" --header 'Content-Type: application/json' \
      --post-file "$INIT_REQUEST" "$VAULT_ADDR/v1/sys/init" 2>/dev/null; then
    chmod 600 "$out"
    log "Vault initialised; the PGP-encrypted init response is on the init volume as $(basename "$out")"
  else
    rm -f "$out"
    log "initialisation request failed; will retry"
  fi
}

unseal() {
  if [ ! -s "$KEYS_FILE" ]; then
    log "Vault is sealed and no unseal keys are mounted; waiting for an operator"
    return
  fi
  body=$(mktemp "$SHM_DIR/unseal.XXXXXX") || { log "no tmpfs for the request body"; return; }
  used=0
  # One key per line; blank lines and lines starting with '#' are skipped.
  while IFS= read -r key || [ -n "$key" ]; do
    case "$key" in "" | "#"*) continue ;; esac
    case "$key" in *[!A-Za-z0-9+/=]*) log "skipping a malformed key line"; continue ;; esac
    printf '{"key":"%s"}' "$key" >"$body"
    timeout 10 wget -q -O /dev/null --header 'Content-Type: application/json' \
      --post-file "$body" "$VAULT_ADDR/v1/sys/unseal" 2>/dev/null || log "an unseal request failed"
    used=$((used + 1))
  done <"$KEYS_FILE"
  rm -f "$body"
  log "submitted $used unseal key share(s)"
}

log "watching $VAULT_ADDR every ${INTERVAL}s"
while :; do
  status=$(seal_status)
  if [ -z "$status" ]; then
    log "Vault is not answering yet"
  elif [ "$(field initialized "$status")" = "false" ]; then
    initialise
  elif [ "$(field sealed "$status")" = "true" ]; then
    unseal
  fi
  [ "${RUN_ONCE:-0}" = "1" ] && exit 0
  sleep "$INTERVAL"
done
