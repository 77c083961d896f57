#!/usr/bin/env bash
# Waits until no process holds the dpkg/apt locks, saying which process it waits for, for at
# most SECONDS (default 300). Exit 0 when the locks are free, 1 after the time limit.
#   usage: scripts/wait-for-dpkg-lock.sh [SECONDS]
# GAMEDAY_DPKG_LOCKS overrides the lock files to watch (space-separated).
set -euo pipefail
limit=${1:-300}
locks=${GAMEDAY_DPKG_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}

# "FILE PID (NAME)" of the first lock that is held, from /proc/locks; nothing when all are free.
holder() {
    local file inode pid name
    for file in $locks; do
        [ -e "$file" ] || continue
        inode=$(stat -c %i "$file")
        # fields: N: [-> ...] TYPE ADVISORY MODE PID MAJ:MIN:INODE START END; "->" marks waiters
        pid=$(awk -v inode="$inode" '$2 != "->" { split($6, id, ":"); if (id[3] == inode) { print $5; exit } }' /proc/locks)
        if [ -n "$pid" ]; then
            name=$(cat "/proc/$pid/comm" 2>/dev/null || echo "?")
            echo "$file, held by process $pid ($name)"
            return 0
        fi
    done
    return 1
}

waited=0
while held=$(holder); do
    if [ "$waited" -ge "$limit" ]; then
        echo "gave up after ${limit}s: $held; let it finish (or stop it), then run \`make system-deps\` again" >&2
        exit 1
    fi
    if [ $((waited % 30)) -eq 0 ]; then
        echo "waiting for the dpkg lock $held (${waited}s of at most ${limit}s)"
    fi
    sleep 1
    waited=$((waited + 1))
done
