#!/bin/sh
# sprocket-backup: the daily backup of a stack's Docker volumes to its restic repository.
#
#   sprocket-backup schedule             every day at DAILY_AT_UTC (HH:MM), run; forever
#   sprocket-backup run                  back up every volume under /volumes now, then prune
#   sprocket-backup restore VOLUME [ID]  restore VOLUME (snapshot ID, default the latest)
#                                        into /volumes/VOLUME, which must be empty
#   sprocket-backup snapshots            list the repository's snapshots
#
# From the environment: RESTIC_REPOSITORY, RESTIC_PASSWORD_FILE, AWS_SHARED_CREDENTIALS_FILE
# (read by restic itself), BACKUP_HOST (the snapshots' host name, one per stack, so that
# retention groups a volume's snapshots whatever container took them), DAILY_AT_UTC, KEEP_DAILY,
# KEEP_WEEKLY, KEEP_MONTHLY. Every outcome is one line starting "sprocket-backup:"; the alert
# rules (stacks/shared_services/alerting.py) look for "run ok" and "run failed".
set -u

VOLUMES=/volumes

say() { echo "sprocket-backup: $*"; }

ensure_repository() {
    if restic cat config >/dev/null 2>&1; then
        return 0
    fi
    # Refused by restic if a repository is already there: an unreadable one is never replaced.
    restic init
}

seconds_until() {
    # Seconds from now to the next HH:MM UTC (epoch seconds have no leap seconds: day = 86400).
    hour=${1%%:*}
    minute=${1##*:}
    now=$(date -u +%s)
    wait=$(((${hour#0} * 3600 + ${minute#0} * 60 - now % 86400 + 86400) % 86400))
    [ "$wait" -eq 0 ] && wait=86400
    echo "$wait"
}

run() {
    if ! ensure_repository; then
        say "run failed: the repository $RESTIC_REPOSITORY cannot be opened or created"
        return 1
    fi
    failed=""
    count=0
    for path in "$VOLUMES"/*; do
        [ -d "$path" ] || continue
        volume=${path##*/}
        count=$((count + 1))
        # Always the same path and tag for a volume: restic finds the parent snapshot and
        # uploads only what changed.
        if restic backup --quiet --host "$BACKUP_HOST" --tag "$volume" "$path"; then
            say "volume ok: $volume"
        else
            say "volume failed: $volume (restic exit $?)"
            failed="$failed $volume"
        fi
    done
    if ! restic forget --quiet --host "$BACKUP_HOST" --group-by host,tags \
        --keep-daily "$KEEP_DAILY" --keep-weekly "$KEEP_WEEKLY" --keep-monthly "$KEEP_MONTHLY" \
        --prune; then
        failed="$failed (forget/prune)"
    fi
    if [ -n "$failed" ]; then
        say "run failed:$failed"
        return 1
    fi
    say "run ok: $count volumes"
}

restore() {
    volume=${1:?usage: sprocket-backup restore VOLUME [SNAPSHOT]}
    snapshot=${2:-latest}
    target="$VOLUMES/$volume"
    if [ ! -d "$target" ]; then
        say "restore failed: $target is not mounted"
        return 2
    fi
    if [ -n "$(ls -A "$target")" ]; then
        say "restore failed: $target is not empty; restore only into an empty volume"
        return 2
    fi
    # The snapshot holds $target itself: restoring at / puts every file back where it was,
    # with its owner and mode.
    if restic restore "$snapshot" --host "$BACKUP_HOST" --tag "$volume" --target /; then
        say "restore ok: $volume from $snapshot"
    else
        say "restore failed: $volume from $snapshot (restic exit $?)"
        return 1
    fi
}

case "${1:-}" in
schedule)
    # As the container's first process, sh ignores SIGTERM unless it traps it: without this,
    # every stop or update would wait out the grace period and end in SIGKILL. The sleep runs
    # in the background so that the trap fires at once (and ends it); a run in progress is
    # let finish.
    trap 'say "stopping"; kill $! 2>/dev/null; exit 0' TERM INT
    say "scheduled daily at $DAILY_AT_UTC UTC"
    while true; do
        sleep "$(seconds_until "$DAILY_AT_UTC")" &
        wait $!
        run
    done
    ;;
run) run ;;
restore)
    shift
    restore "$@"
    ;;
snapshots) restic snapshots --host "$BACKUP_HOST" ;;
*)
    echo "usage: sprocket-backup schedule | run | restore VOLUME [SNAPSHOT] | snapshots" >&2
    exit 2
    ;;
esac
