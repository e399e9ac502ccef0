#!/usr/bin/env bash
# jobq under a real systemd. No systemd runs on the build machines, so one boots in a container:
# a Debian bookworm root (debootstrap, cached in $JOBQ_E2E_CACHE, default /var/cache/jobq-e2e)
# copied afresh for each run, booted with systemd-nspawn and driven from outside with nsenter.
# `make install DESTDIR=<root>` puts the release binaries (Swift runtime linked in) and the units
# in it; the README's operator commands are then run inside, as written, and the script checks
# socket activation, STATUS=, the hardening, restarts after SIGKILL and after a watchdog timeout,
# the drain at `systemctl stop`, and a power-off and boot with jobs queued.
#
# Never boot a systemd as PID 1 on the machine's own root (its tmpfiles clean-up empties /tmp):
# only inside its own root, as here. Prints "N passed, N failed"; skips, saying why, only where
# it cannot run (not root, no nspawn and no way to install it).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

passed=0
failed=0
skip() {
    echo "systemd-e2e: skipped: $*"
    echo "systemd-e2e: 0 passed, 0 failed (skipped)"
    exit 0
}
ok() { passed=$((passed + 1)); echo "ok    $*"; }
bad() { failed=$((failed + 1)); echo "FAIL  $*"; }
# expect NAME ACTUAL WANTED
expect() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', wanted '$3'"; fi; }

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, systemd-nspawn, nsenter)"
missing=""
command -v debootstrap >/dev/null || missing+=" debootstrap"
command -v systemd-nspawn >/dev/null || missing+=" systemd-container"
command -v nsenter >/dev/null || missing+=" util-linux"
command -v sqlite3 >/dev/null || missing+=" sqlite3"
command -v curl >/dev/null || missing+=" curl"
if [ -n "$missing" ]; then
    if command -v apt-get >/dev/null; then
        echo "installing:$missing"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null ||
            skip "cannot install$missing"
    else
        skip "missing$missing and no apt-get"
    fi
fi

cache=${JOBQ_E2E_CACHE:-/var/cache/jobq-e2e}
base=$cache/bookworm
mkdir -p "$cache"
if [ ! -x "$base/lib/systemd/systemd" ]; then
    echo "debootstrap of a bookworm root into $base (once; about 2 minutes)"
    rm -rf "$base.tmp"
    if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libsqlite3-0 bookworm "$base.tmp" \
        >"$cache/debootstrap.log" 2>&1; then
        tail -20 "$cache/debootstrap.log"
        echo "systemd-e2e: 0 passed, 1 failed (debootstrap)"
        exit 1
    fi
    mv "$base.tmp" "$base"
fi

work=$(mktemp -d "$cache/run.XXXXXX")
root=$work/root
nspawn=""
init=""

# The container's systemd: a process named systemd, PID 1 in its own namespace, whose ancestors
# include our systemd-nspawn.
find_init() {
    local pid parent
    for pid in $(pgrep -x systemd); do
        grep -qE '^NSpid:\s+[0-9]+\s+1$' "/proc/$pid/status" 2>/dev/null || continue
        parent=$pid
        while [ -n "$parent" ] && [ "$parent" -gt 1 ]; do
            parent=$(awk '/^PPid:/ { print $2 }' "/proc/$parent/status" 2>/dev/null)
            if [ "$parent" = "$nspawn" ]; then
                echo "$pid"
                return 0
            fi
        done
    done
    return 1
}

# inside COMMAND...: runs a command inside the container, as root, with a clean environment.
inside() {
    nsenter -t "$init" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
}

# until SECONDS COMMAND...: runs the command every 0.2 s until it succeeds or SECONDS pass.
# systemd has no way to wait for a unit property; this is the test's only polling.
until_true() {
    local deadline=$((SECONDS + $1))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# boot: starts the container and sets nspawn, init and state (what is-system-running says once
# the boot is done). Not run in a subshell: the caller needs those variables.
boot() {
    systemd-nspawn -q -D "$root" --boot --private-network --register=no --keep-unit --console=pipe \
        </dev/null >>"$work/console.log" 2>&1 &
    nspawn=$!
    init=""
    state=""
    local deadline=$((SECONDS + 120))
    while [ -z "$init" ]; do
        init=$(find_init) || init=""
        if [ -z "$init" ]; then
            if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$nspawn" 2>/dev/null; then return 1; fi
            sleep 0.2
        fi
    done
    # Until its manager's bus is up, systemctl prints nothing; then --wait blocks until the boot
    # is done and prints running (or degraded).
    while [ -z "$state" ]; do
        state=$(nsenter -t "$init" -a systemctl is-system-running --wait 2>/dev/null)
        if [ -z "$state" ]; then
            if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$nspawn" 2>/dev/null; then return 1; fi
            sleep 0.2
        fi
    done
}

poweroff() {
    [ -n "$nspawn" ] || return 0
    if kill -0 "$nspawn" 2>/dev/null; then
        [ -n "$init" ] && nsenter -t "$init" -a systemctl poweroff >/dev/null 2>&1
        local deadline=$((SECONDS + 60))
        while kill -0 "$nspawn" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
        if kill -0 "$nspawn" 2>/dev/null; then
            [ -n "$init" ] && kill -KILL "$init" 2>/dev/null
            kill -KILL "$nspawn" 2>/dev/null
        fi
    fi
    wait "$nspawn" 2>/dev/null
    nspawn=""
    init=""
}

cleanup() {
    poweroff
    # Never remove a root a container might still run in.
    if [ -n "$(pgrep -f "systemd-nspawn -q -D $root ")" ]; then
        echo "systemd-e2e: a container still runs in $root; left in place"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

summary() {
    echo "systemd-e2e: $passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit
}

# On a failure, the container's view of the daemon helps.
journal() {
    [ -n "$init" ] && inside journalctl --no-pager -n 40 -u jobqd.service -u jobqd.socket | sed 's/^/      /'
}

# run_block FILE MARKER WHAT: runs the commands of the fenced block between <!-- MARKER --> and
# <!-- /MARKER --> in FILE inside the container, one line at a time, as written (a leading sudo
# dropped; make install, run from outside, skipped); one check for the whole block.
run_block() {
    local file=$1 marker=$2 what=$3 all_ok=1 line
    while IFS= read -r line; do
        line=${line#sudo }
        case "$line" in "" | "#"* | "make install"*) continue ;; esac
        if inside sh -c "$line" >"$work/out" 2>&1; then
            echo "      # $line"
        else
            all_ok=0
            bad "$what command: $line"
            sed 's/^/      /' "$work/out"
        fi
    done < <(sed -n "/^<!-- $marker -->\$/,/^<!-- \\/$marker -->\$/p" "$file" | sed -n '/^```/,/^```/p' | grep -v '^```')
    [ "$all_ok" = 1 ] && ok "$what commands run inside the container"
}

echo "copying the root to $root"
cp -a "$base" "$root"
echo "make install DESTDIR=$root"
if ! make --no-print-directory -C "$repo" install DESTDIR="$root" >"$work/make.log" 2>&1; then
    tail -30 "$work/make.log"
    bad "make install DESTDIR=$root"
    summary
fi

boot || { bad "the container boots"; tail -30 "$work/console.log"; summary; }
expect "the container's systemd reaches running" "$state" "running"
[ "$state" = running ] || { inside systemctl --failed --no-pager; summary; }

# The README's operator section, followed literally (make install ran above, from outside,
# because the container has no Swift toolchain).
run_block "$repo/README.md" operator-commands "the README's operator"
expect "jobqd.socket is enabled" "$(inside systemctl is-enabled jobqd.socket)" "enabled"
expect "jobqd.socket is active" "$(inside systemctl is-active jobqd.socket)" "active"
expect "jobqd.service waits for the first connection" "$(inside systemctl is-active jobqd.service)" "inactive"
expect "the socket: root:jobq 0660 in /run/jobq, jobq:jobq 0750" \
    "$(inside stat -c '%U:%G %a' /run/jobq/jobq.sock /run/jobq | tr '\n' ' ')" "root:jobq 660 jobq:jobq 750 "

# The first submit starts jobqd through socket activation; the job shows the hardening it runs under.
cat >"$root/usr/local/lib/hardening-probe" <<'PROBE'
#!/bin/sh
id -un
grep -E '^(NoNewPrivs|CapBnd|CapEff):' /proc/self/status
touch /usr/local/lib/x 2>/dev/null && echo "/usr writable" || echo "/usr read-only"
touch /etc/x 2>/dev/null && echo "/etc writable" || echo "/etc read-only"
touch /var/lib/jobq/probe && echo "/var/lib/jobq writable"
bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>&1 | grep -q "Address family not supported" && echo "AF_INET refused" || echo "AF_INET allowed"
test -e /proc/1/status && echo "pid 1 visible" || echo "pid 1 hidden"
echo "umask $(umask)"
PROBE
chmod 755 "$root/usr/local/lib/hardening-probe"
probe=$(inside jobq submit -- /usr/local/lib/hardening-probe)
expect "the first jobq submit is answered (socket activation)" "$?" "0"
expect "jobqd.service is active after the first connection" "$(inside systemctl is-active jobqd.service)" "active"
inside jobq wait --timeout 30s "$probe" >/dev/null
expect "the probe job succeeds" "$?" "0"
expected_probe="jobq
CapEff:	0000000000000000
CapBnd:	0000000000000000
NoNewPrivs:	1
/usr read-only
/etc read-only
/var/lib/jobq writable
AF_INET refused
pid 1 hidden
umask 0077"
actual_probe=$(inside jobq logs "$probe" | grep -v -E '^Cap(Inh|Prm|Amb):')
expect "the job runs as jobq with the unit's hardening in force" "$actual_probe" "$expected_probe"

status=$(inside systemctl show -p StatusText --value jobqd)
if [[ "$status" =~ ^[0-9]+\ running,\ [0-9]+\ queued ]]; then ok "StatusText shows jobqd's STATUS= line: $status"; else bad "StatusText: '$status'"; fi

# systemctl restart under a waiting `jobq wait`: the wait goes on. Under socket activation the
# socket outlives the daemon, so the repeated wait sits in its backlog until the new jobqd.
inside jobq pause e2e-held >/dev/null
held=$(inside jobq submit -q e2e-held -- true)
inside jobq wait "$held" >"$work/wait.out" 2>&1 &
waiter=$!
# The wait is held open once the daemon's gauge counts it (read from outside, through the
# container's root).
held_open() {
    curl -sf --unix-socket "/proc/$init/root/run/jobq/jobq.sock" http://jobqd/metrics | grep -qx 'jobq_api_long_requests 1'
}
until_true 30 held_open || bad "the wait is not held open by jobqd"
pid_before=$(inside systemctl show -p ExecMainPID --value jobqd)
inside systemctl restart jobqd
expect "systemctl restart jobqd starts a new daemon" \
    "$([ "$(inside systemctl show -p ExecMainPID --value jobqd)" != "$pid_before" ] && inside systemctl is-active jobqd)" "active"
inside jobq resume e2e-held >/dev/null
wait "$waiter"
expect "jobq wait goes on across systemctl restart jobqd and exits 0 once its job ran" "$?" "0"
if grep -q "jobqd went away during the wait" "$work/wait.out"; then
    ok "jobq wait said that jobqd went away"
else
    bad "jobq wait's stderr: $(cat "$work/wait.out")"
fi

# SIGKILL to the whole service: systemd restarts it; every acknowledged job is still there and runs.
ids=$(for i in $(seq 1 40); do echo "sleep 0.1"; done | inside jobq submit --stdin)
count=$(echo "$ids" | grep -c .)
expect "40 jobs acknowledged before the SIGKILL" "$count" "40"
restarts=$(inside systemctl show -p NRestarts --value jobqd)
inside systemctl kill -s KILL jobqd
restarted() { [ "$(inside systemctl show -p NRestarts --value jobqd)" -gt "$restarts" ] && [ "$(inside systemctl is-active jobqd)" = active ]; }
if until_true 30 restarted; then ok "systemctl kill -s KILL jobqd: systemd restarts it"; else bad "no restart after SIGKILL"; journal; fi
# shellcheck disable=SC2086
inside jobq wait --timeout 60s $ids >/dev/null
expect "all 40 acknowledged jobs are found after the restart and succeed" "$?" "0"

# SIGSTOP: the watchdog pings stop; after WatchdogSec systemd aborts jobqd and restarts it.
restarts=$(inside systemctl show -p NRestarts --value jobqd)
inside systemctl kill -s STOP --kill-whom=main jobqd
if until_true 90 restarted; then
    ok "systemctl kill -s STOP jobqd: the watchdog fires, NRestarts $restarts -> $(inside systemctl show -p NRestarts --value jobqd)"
else
    bad "no watchdog restart after SIGSTOP"
    journal
fi
# systemd's line reaches journald through a socket, so it can trail the restart: wait for it.
watchdog_logged() { inside journalctl --sync; inside journalctl --no-pager -u jobqd.service | grep -q "Watchdog timeout"; }
if until_true 30 watchdog_logged; then ok "the journal records the watchdog timeout"; else bad "no 'Watchdog timeout' in the journal"; inside journalctl --no-pager -n 30 | sed "s/^/      /"; fi

# systemctl stop with a running job: jobqd drains within TimeoutStopSec and requeues the job.
long=$(inside jobq submit -- sh -c 'if [ -e /var/lib/jobq/ran-once ]; then echo second run; else touch /var/lib/jobq/ran-once; exec sleep 300; fi')
deps=$(for i in 1 2 3; do inside jobq submit --after "$long" -- echo "after $i"; done)
running() { inside jobq show --json "$long" | grep -q '"state" *: *"running"'; }
until_true 30 running || bad "the long job never started"
start=$SECONDS
inside systemctl stop jobqd.socket jobqd.service
elapsed=$((SECONDS - start))
if [ "$elapsed" -lt 45 ]; then ok "systemctl stop drains in ${elapsed}s (TimeoutStopSec=45s)"; else bad "stop took ${elapsed}s"; fi
expect "the stop ends cleanly (Result=success, exit status 0)" \
    "$(inside systemctl show -p Result --value jobqd) $(inside systemctl show -p ExecMainStatus --value jobqd)" "success 0"
db=$root/var/lib/jobq/jobs.db
expect "the running job is back in queued" "$(sqlite3 "$db" "SELECT state FROM jobs WHERE id = $long")" "queued"
expect "its three dependants are still blocked" "$(sqlite3 "$db" "SELECT count(*) FROM jobs WHERE state = 'blocked'")" "3"

# Power off and boot again: the socket is enabled, the queued jobs are still there and run.
poweroff
boot || { bad "the container boots a second time"; tail -30 "$work/console.log"; summary; }
expect "the second boot reaches running" "$state" "running"
expect "jobqd.socket is active after the boot" "$(inside systemctl is-active jobqd.socket)" "active"
# shellcheck disable=SC2086
inside jobq wait --timeout 60s "$long" $deps >/dev/null
expect "after the boot, the requeued job and its dependants run and succeed" "$?" "0"
expect "the requeued job ran again" "$(inside jobq logs "$long")" "second run"
expect "its dependants ran after it" "$(for id in $deps; do inside jobq logs "$id"; done | tr '\n' ' ')" "after 1 after 2 after 3 "

# A shared machine: docs/operations.md's guide followed as written, with two users made here.
inside useradd -m -s /bin/sh alice && inside useradd -m -s /bin/bash bob && inside groupadd lab &&
    inside usermod -aG lab alice || bad "useradd alice and bob"
run_block "$repo/docs/operations.md" shared-machine-commands "the shared-machine guide's"
as_user() { local user=$1; shift; inside runuser -u "$user" -- "$@"; }
main_pid=$(inside systemctl show -p MainPID --value jobqd)
expect "jobqd runs as jobq with CAP_SETUID, CAP_SETGID and CAP_KILL only" \
    "$(inside stat -c %U "/proc/$main_pid") $(inside grep -E '^Cap(Eff|Bnd):' "/proc/$main_pid/status" | tr -s '\t\n' '  ')" \
    "jobq CapEff: 00000000000000e0 CapBnd: 00000000000000e0 "
cat >"$root/usr/local/lib/user-probe" <<'PROBE'
#!/bin/sh
echo "$(id -un) $(id -u) $(id -G | tr ' ' '\n' | sort -n | tr '\n' ' ')"
echo "$HOME $USER $LOGNAME $SHELL"
grep -E '^(NoNewPrivs|CapEff|CapPrm|CapAmb):' /proc/self/status | tr -s '\t' ' '
touch "$HOME/written-by-a-job" && echo "home writable"
PROBE
chmod 755 "$root/usr/local/lib/user-probe"
declare -A probes
for user in alice bob; do
    probes[$user]=$(as_user "$user" jobq submit -- /usr/local/lib/user-probe)
    as_user "$user" jobq wait --timeout 30s "${probes[$user]}" >/dev/null
    expect "$user's probe job succeeds" "$?" "0"
    home=$(inside getent passwd "$user" | cut -d: -f6)
    shell=$(inside getent passwd "$user" | cut -d: -f7)
    expect "$user's job runs as $user, with their groups, HOME, USER, LOGNAME, SHELL, no capabilities, no_new_privs" \
        "$(as_user "$user" jobq logs "${probes[$user]}")" \
        "$user $(inside id -u "$user") $(inside id -G "$user" | tr ' ' '\n' | sort -n | tr '\n' ' ')
$home $user $user $shell
CapPrm: 0000000000000000
CapEff: 0000000000000000
CapAmb: 0000000000000000
NoNewPrivs: 1
home writable"
done
expect "the file the job wrote in alice's home is alice's" "$(inside stat -c %U /home/alice/written-by-a-job)" "alice"
as_user bob jobq show "${probes[alice]}" >/dev/null 2>&1
expect "bob's jobq show of alice's job: not found (exit 4)" "$?" "4"
as_user bob jobq cancel "${probes[alice]}" >/dev/null 2>&1
expect "bob's jobq cancel of alice's job: not found (exit 4)" "$?" "4"
expect "bob's jobq list holds bob's job only" "$(as_user bob jobq list --json | grep -o '"id" *: *[0-9]*' | grep -o '[0-9]*$' | tr '\n' ' ')" "${probes[bob]} "
expect "root lists alice's jobs with --user" "$(inside jobq list --user alice --json | grep -o '"id" *: *[0-9]*' | grep -o '[0-9]*$' | tr '\n' ' ')" "${probes[alice]} "
peek=$(as_user bob jobq submit -- cat "/var/lib/jobq/logs/${probes[alice]}.out")
as_user bob jobq wait --timeout 30s "$peek" >/dev/null 2>&1
expect "a job of bob cannot read alice's output file (the job fails)" "$?" "1"
inside jobq submit -- true >/dev/null 2>&1
expect "root's submit is refused (allow_root_jobs is off): exit 4" "$?" "4"
# A cancel reaches alice's running job although jobqd is not root (CAP_KILL).
sleeper=$(as_user alice jobq submit -- sleep 300)
alice_running() { as_user alice jobq show --json "$sleeper" | grep -q '"state" *: *"running"'; }
until_true 30 alice_running || bad "alice's sleep never started"
as_user alice jobq cancel "$sleeper" >/dev/null
expect "alice cancels her running job" "$?" "0"
no_sleep_left() { ! inside pgrep -u alice -x sleep; }
if until_true 30 no_sleep_left; then ok "alice's cancelled job's process is gone (signalled by jobqd through CAP_KILL)"; else bad "alice's sleep still runs after the cancel"; journal; fi

summary
