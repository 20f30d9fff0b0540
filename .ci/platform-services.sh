# Sourced by .ci/run: install (once) and start the engines the platform tests use, on 127.0.0.1 only:
#   single-host Slurm (munge, slurmctld, slurmd) + slurmrestd with JWT, a Ray head, PostgreSQL 15.
# Each engine that is started must come up, else CI fails (the tests FAIL, not skip, without them).
# Exports WANKA_TEST_SLURMRESTD_URL, WANKA_TEST_SLURM_JWT_KEY, WANKA_TEST_RAY_ADDRESS,
# WANKA_TEST_PG_URL. `platform_services_stop` stops what this script started (by pid).
# Setup steps verified on Debian 12 (see docs/platform.md, "Engines in CI").

_plat_log() { echo "platform-services: $*" >&2; }
_plat_fail() { _plat_log "$*"; return 1; }
_plat_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

platform_services_install() {
    local need=()
    command -v slurmctld >/dev/null || need+=(slurm-wlm munge)
    command -v slurmrestd >/dev/null || need+=(slurmrestd)
    [ -e /usr/lib/x86_64-linux-gnu/slurm-wlm/auth_jwt.so ] || need+=(slurm-wlm-jwt-plugin)
    [ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
    command -v chromium >/dev/null || need+=(chromium)
    command -v chromedriver >/dev/null || need+=(chromium-driver)
    if [ "${#need[@]}" -gt 0 ]; then
        _plat_log "apt-get install ${need[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}" >/tmp/wanka-ci-apt.log 2>&1 \
            || _plat_fail "apt-get install failed; see /tmp/wanka-ci-apt.log" || return 1
    fi
    python -c 'import sys, ray._private.utils as u; sys.exit(u.get_dashboard_dependency_error() is not None)' 2>/dev/null \
        || python -m pip install -q "ray[default]" || _plat_fail "pip install ray[default] failed"
}

platform_slurm_start() {
    local D=/var/lib/wanka-ci-slurm
    # a previous run's daemons (this script's own, by pid file) and state are cleared first
    for f in "$D"/run/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
    sleep 0.5
    rm -rf "$D"; mkdir -p "$D"/{state,spool,log,run} /run/munge
    id -u slurm >/dev/null 2>&1 || useradd -r -M slurm
    id -u wankarest >/dev/null 2>&1 || useradd -r -M wankarest
    for u in tenanta tenantb; do id -u "$u" >/dev/null 2>&1 || useradd -m "$u"; done
    chown munge:munge /run/munge 2>/dev/null
    [ -f /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null;
        chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key; }
    pgrep -u munge munged >/dev/null || runuser -u munge -- /usr/sbin/munged \
        || _plat_fail "munged did not start" || return 1
    dd if=/dev/urandom of="$D/state/jwt_hs256.key" bs=32 count=1 2>/dev/null
    local cpus; cpus=$(nproc)
    cat >/etc/slurm/slurm.conf <<EOF
ClusterName=wankaci
SlurmctldHost=localhost
SlurmUser=slurm
AuthType=auth/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$D/state/jwt_hs256.key
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
EOF
    chown -R slurm:slurm "$D"; chmod 0600 "$D/state/jwt_hs256.key"
    chmod 0755 "$D" "$D/state"
    /usr/sbin/slurmctld || _plat_fail "slurmctld did not start; see $D/log" || return 1
    /usr/sbin/slurmd || _plat_fail "slurmd did not start; see $D/log" || return 1
    local i
    for i in $(seq 60); do
        sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break; sleep 0.5
    done
    sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)' || _plat_fail "Slurm node not idle: $(sinfo -h)" || return 1
    local port; port=$(_plat_port)
    # slurmrestd refuses root and SlurmUser: run it as its own user; without slurmdbd it needs -s
    SLURM_JWT=daemon runuser -u wankarest -- /usr/sbin/slurmrestd -s openapi/v0.0.38 -a rest_auth/jwt \
        "127.0.0.1:$port" >"$D/log/slurmrestd.log" 2>&1 &
    echo $! >"$D/run/slurmrestd.pid"
    export WANKA_TEST_SLURMRESTD_URL="http://127.0.0.1:$port"
    export WANKA_TEST_SLURM_JWT_KEY="$D/state/jwt_hs256.key"
    export WANKA_TEST_SLURM_JOBCOMP="$D/log/jobcomp.txt"
    for i in $(seq 60); do
        curl -s -o /dev/null "http://127.0.0.1:$port/slurm/v0.0.38/ping" && break; sleep 0.5
    done
    curl -s -o /dev/null "http://127.0.0.1:$port/slurm/v0.0.38/ping" \
        || _plat_fail "slurmrestd did not answer; see $D/log/slurmrestd.log" || return 1
    _plat_log "Slurm up: $(sinfo -h | head -1); slurmrestd on $WANKA_TEST_SLURMRESTD_URL"
}

_plat_ray_kill() {
    # Ray's processes started by this script are the ones that name its temp dir
    local pid
    for pid in $(pgrep -f -- "wanka-ci-ray" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    sleep 1
    for pid in $(pgrep -f -- "wanka-ci-ray" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    return 0
}

platform_ray_start() {
    local T=/tmp/wanka-ci-ray port dport aport
    port=$(_plat_port); dport=$(_plat_port); aport=$(_plat_port)
    _plat_ray_kill
    mkdir -p "$T"
    # --temp-dir outside /tmp/ray: jobs whose cwd is /tmp must not import a namespace `ray`, and a
    # plain ray.init() elsewhere in the tests must not attach to this head
    # `ray start` gives the raylet a fixed 30 s to register; on a busy machine retry, twice at most
    local try ok=0
    for try in 1 2 3; do
        if RAY_AUTH_MODE=token ray start --head --node-ip-address=127.0.0.1 --port="$port" \
            --dashboard-host=127.0.0.1 --dashboard-port="$dport" \
            --dashboard-agent-listen-port="$aport" --num-cpus=2 --include-dashboard=true --temp-dir="$T" \
            --disable-usage-stats >"$T/start.log" 2>&1; then ok=1; break; fi
        _plat_log "ray start attempt $try failed; retrying"
        _plat_ray_kill; sleep 2
    done
    [ "$ok" = 1 ] || _plat_fail "ray start failed 3 times; see $T/start.log" || return 1
    export WANKA_TEST_RAY_ADDRESS="http://127.0.0.1:$dport"
    export WANKA_TEST_RAY_GCS="127.0.0.1:$port"
    # Ray's token authentication (on with RAY_AUTH_MODE=token; the token file is created if missing)
    export WANKA_TEST_RAY_TOKEN_FILE="$HOME/.ray/auth_token"
    local i h="Authorization: Bearer $(cat "$WANKA_TEST_RAY_TOKEN_FILE" 2>/dev/null)"
    for i in $(seq 240); do
        curl -sf -H "$h" "$WANKA_TEST_RAY_ADDRESS/api/version" >/dev/null && break; sleep 0.5
    done
    curl -sf -H "$h" "$WANKA_TEST_RAY_ADDRESS/api/version" >/dev/null \
        || _plat_fail "Ray job server did not answer at $WANKA_TEST_RAY_ADDRESS" || return 1
    _plat_log "Ray head up: $WANKA_TEST_RAY_ADDRESS"
}

platform_pg_start() {
    local P=/tmp/wanka-ci-pg B=/usr/lib/postgresql/15/bin port
    port=$(_plat_port)
    [ -f "$P/data/postmaster.pid" ] && runuser -u postgres -- "$B/pg_ctl" -D "$P/data" stop -m fast >/dev/null 2>&1
    rm -rf "$P"; mkdir -p "$P"; chown postgres:postgres "$P"
    runuser -u postgres -- "$B/initdb" -D "$P/data" -A trust -U postgres >"$P/initdb.log" 2>&1 \
        || _plat_fail "initdb failed; see $P/initdb.log" || return 1
    runuser -u postgres -- "$B/pg_ctl" -D "$P/data" -l "$P/pg.log" -w -t 60 \
        -o "-p $port -k $P -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start \
        >/dev/null || _plat_fail "PostgreSQL did not start; see $P/pg.log" || return 1
    runuser -u postgres -- "$B/createdb" -h 127.0.0.1 -p "$port" wanka_test \
        || _plat_fail "createdb failed" || return 1
    export WANKA_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/wanka_test"
    _plat_log "PostgreSQL up: $WANKA_TEST_PG_URL"
}

platform_services_start() {
    platform_services_install || return 1
    platform_slurm_start || return 1
    platform_ray_start || return 1
    platform_pg_start || return 1
}

platform_services_stop() {
    local D=/var/lib/wanka-ci-slurm f
    for f in "$D"/run/slurmrestd.pid "$D"/run/slurmd.pid "$D"/run/slurmctld.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    _plat_ray_kill
    [ -f /tmp/wanka-ci-pg/data/postmaster.pid ] && runuser -u postgres -- \
        /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/wanka-ci-pg/data stop -m fast >/dev/null 2>&1
    return 0
}
