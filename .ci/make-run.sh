#!/usr/bin/env bash
# The script behind `make run`: one instance of ML Assess (sandbox, demo, Celery worker with
# beat, web server). Several run side by side on one machine: each takes its own port, its
# own sandbox uid range and its own var directory (SQLite, broker, socket, logs).
#
#   PORT=8001 SANDBOX_UID_BASE=200016 VAR_DIR=var/port-8001 .ci/make-run.sh
#
# Unset, PORT is the first free port from 8000 and SANDBOX_UID_BASE the first free uid range
# from 200000; a value that is given but taken fails at once, naming a free one. The choices
# come before anything slow (setup, migrate, torch). Ctrl-C or SIGTERM stops every child.
# `.ci/make-run.sh --preflight` only prints what it would use (the tests call it).
set -uo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
MANAGE="$PY manage.py"
FIRST_PORT=8000
UID_FIRST=200000
# A sandbox hands out one uid per job slot (--max-jobs 8); ranges are 16 apart and stay
# below the tests' (210000 and up).
UID_SLOTS=8
UID_STRIDE=16
UID_RANGES=40

die() {
  echo "make run: $*" >&2
  exit 2
}

port_in_use() {
  # Something answers on the port (another `make run`, or any server).
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# An instance holds a lock on its port and on its uid range from the moment it picks them
# (its children inherit the descriptors, so the locks last as long as any of them): a second
# `make run` started meanwhile never picks the same ones, though nothing listens yet.
LOCKS=/run/lock
reserve() {
  # reserve FD NAME: lock $LOCKS/ml-assess-run-NAME.lock on descriptor FD, or fail.
  eval "exec $1>\"$LOCKS/ml-assess-run-$2.lock\"" && flock -n "$1" && return 0
  eval "exec $1>&-"
  return 1
}

take_port() {
  # take_port PORT: reserve PORT if it is free (descriptor 8).
  ! port_in_use "$1" && reserve 8 "port-$1"
}

uid_range_problem() {
  # The sandbox locks /run/grading-sandbox-uid-<base>.lock for its lifetime and refuses uids
  # that belong to a user or group; check the same before starting anything.
  local base=$1 uid lock="/run/grading-sandbox-uid-$1.lock"
  if [[ -e $lock ]] && ! flock -n "$lock" true 2>/dev/null; then
    echo "uids from $base are in use by another sandbox ($lock is locked)"
    return 0
  fi
  for ((uid = base; uid < base + UID_SLOTS; uid++)); do
    if getent passwd "$uid" >/dev/null || getent group "$uid" >/dev/null; then
      echo "uid/gid $uid belongs to an existing user or group"
      return 0
    fi
  done
  return 1
}

take_uid_base() {
  # take_uid_base BASE: reserve the uid range at BASE if it is free (descriptor 9).
  ! uid_range_problem "$1" >/dev/null && reserve 9 "uids-$1"
}

first_free_port() {
  local port
  for ((port = FIRST_PORT; port < FIRST_PORT + 100; port++)); do
    ! port_in_use "$port" && [[ ! -e $LOCKS/ml-assess-run-port-$port.lock ]] \
      || ! flock -n "$LOCKS/ml-assess-run-port-$port.lock" true && continue
    echo "$port"
    return 0
  done
  echo "another port"
}

first_free_uid_base() {
  local i base
  for ((i = 0; i < UID_RANGES; i++)); do
    base=$((UID_FIRST + i * UID_STRIDE))
    uid_range_problem "$base" >/dev/null && continue
    [[ -e $LOCKS/ml-assess-run-uids-$base.lock ]] \
      && ! flock -n "$LOCKS/ml-assess-run-uids-$base.lock" true && continue
    echo "$base"
    return 0
  done
  echo "<a free uid>"
}

# --- choose the port, the uid range and the var directory (fast, before anything slow) ---
mkdir -p "$LOCKS"
if [[ -n ${PORT:-} ]]; then
  [[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || die "PORT=$PORT is not a port number."
  take_port "$PORT" \
    || die "port $PORT is in use (another make run?). Run: make run PORT=$(first_free_port)"
else
  for ((PORT = FIRST_PORT; PORT < FIRST_PORT + 100; PORT++)); do
    take_port "$PORT" && break
  done
  ((PORT < FIRST_PORT + 100)) || die "no free port from $FIRST_PORT to $((FIRST_PORT + 99)); set PORT=."
fi

if [[ -n ${SANDBOX_UID_BASE:-} ]]; then
  [[ $SANDBOX_UID_BASE =~ ^[0-9]+$ ]] || die "SANDBOX_UID_BASE=$SANDBOX_UID_BASE is not a number."
  if problem=$(uid_range_problem "$SANDBOX_UID_BASE"); then
    die "sandbox uid range: $problem. Run: make run SANDBOX_UID_BASE=$(first_free_uid_base)"
  fi
  reserve 9 "uids-$SANDBOX_UID_BASE" || die "sandbox uid range: uids from $SANDBOX_UID_BASE \
are being taken by another make run. Run: make run SANDBOX_UID_BASE=$(first_free_uid_base)"
else
  for ((i = 0; i < UID_RANGES; i++)); do
    SANDBOX_UID_BASE=$((UID_FIRST + i * UID_STRIDE))
    take_uid_base "$SANDBOX_UID_BASE" && break
  done
  ((i < UID_RANGES)) \
    || die "no free sandbox uid range from $UID_FIRST; set SANDBOX_UID_BASE= (uids no user has)."
fi

# The first instance keeps the documented var/; others get one of their own.
if [[ -z ${VAR_DIR:-} ]]; then
  if [[ $PORT == "$FIRST_PORT" ]]; then VAR_DIR=var; else VAR_DIR=var/port-$PORT; fi
fi
[[ $VAR_DIR == /* ]] || VAR_DIR=$PWD/$VAR_DIR
SITE_URL=${SITE_URL:-http://127.0.0.1:$PORT}
export PORT SANDBOX_UID_BASE VAR_DIR SITE_URL

if [[ ${1:-} == --preflight ]]; then
  echo "PORT=$PORT SANDBOX_UID_BASE=$SANDBOX_UID_BASE VAR_DIR=$VAR_DIR SITE_URL=$SITE_URL"
  exit 0
fi

# --- children: each in its own process group, stopped once, by one trap ------------------
# `set -m` gives every background job its own process group, so a child's own children
# (runserver's reloader, celery's pool, the sandbox's zygote) are stopped with it.
set -m
declare -A CHILDREN=()
STOPPING=0

stop_children() {
  # Runs once: further INT and TERM are ignored, not reset to their default, so neither
  # re-enters it (the old recipe's `trap 'kill 0' ...` signalled its own shell, re-entered
  # its trap and crashed bash) nor kills it halfway: a supervisor's `kill -TERM -- -PGID`
  # reaches this script twice, once from the supervisor and once forwarded by make.
  ((STOPPING)) && return
  STOPPING=1
  trap '' INT TERM
  trap - EXIT
  local pid name deadline
  for pid in "${!CHILDREN[@]}"; do
    # Celery stops its own pool and beat: signalling them too makes its shutdown wait on
    # children that are already gone.
    if [[ ${CHILDREN[$pid]} == worker ]]; then
      kill -TERM "$pid" 2>/dev/null
    else
      kill -TERM -- "-$pid" 2>/dev/null
    fi
  done
  deadline=$((SECONDS + 10))
  for pid in "${!CHILDREN[@]}"; do
    while kill -0 -- "-$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 -- "-$pid" 2>/dev/null; then
      name=${CHILDREN[$pid]}
      echo "make run: $name did not stop in 10 s; killing it" >&2
      kill -KILL -- "-$pid" 2>/dev/null
    fi
  done
  wait 2>/dev/null
}
trap 'stop_children; echo; echo "Stopped."; exit 0' INT TERM
trap stop_children EXIT

start() {
  # start NAME LOG COMMAND...: run COMMAND in the background with its output in LOG.
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  CHILDREN[$!]=$name
}

mkdir -p "$VAR_DIR"
chmod 711 "$VAR_DIR"
LOGS=$VAR_DIR/logs
mkdir -p "$LOGS"

echo "Instance: port $PORT, sandbox uids $SANDBOX_UID_BASE-$((SANDBOX_UID_BASE + UID_SLOTS - 1)), files in $VAR_DIR/"
make --no-print-directory setup || exit 1
$MANAGE migrate --noinput -v0 || exit 1
$MANAGE createcachetable || exit 1

# The sandbox runs with an empty environment: no settings, no secrets.
start sandbox "$LOGS/sandbox.log" env -i PATH=/usr/bin:/bin .venv-sandbox/bin/python \
  -m grading.sandbox.server --socket "$VAR_DIR/sandbox.sock" \
  --scratch-root "$VAR_DIR/sandbox-scratch" --prefork 2 --uid-base "$SANDBOX_UID_BASE"
export SANDBOX_SOCKET=$VAR_DIR/sandbox.sock
echo "Starting the sandbox (log: $LOGS/sandbox.log)…"
$MANAGE sandbox_status --wait 60 || exit 1
$MANAGE load_demo >"$LOGS/demo.txt" || exit 1

start worker "$LOGS/worker.log" .venv/bin/celery -A config worker -Q default,grading \
  --concurrency 2 --loglevel INFO --beat --schedule "$VAR_DIR/celerybeat-schedule"
start web "$LOGS/web.log" $MANAGE runserver "127.0.0.1:$PORT"

# Both are up when /healthz answers 200: the database, the broker and a worker heartbeat.
echo "Starting the worker and the web server…"
deadline=$((SECONDS + 90))
until curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null; do
  for pid in "${!CHILDREN[@]}"; do
    kill -0 "$pid" 2>/dev/null || {
      echo "make run: the ${CHILDREN[$pid]} stopped; its log:" >&2
      tail -n 30 "$LOGS/${CHILDREN[$pid]}.log" >&2
      exit 1
    }
  done
  ((SECONDS < deadline)) || { echo "make run: /healthz did not answer 200 in 90 s; see $LOGS/" >&2; exit 1; }
  sleep 0.5
done

cat "$LOGS/demo.txt"
cat <<EOF

  Admin:   $SITE_URL/admin/
  Health:  $SITE_URL/healthz
  Logs:    $LOGS/web.log  $LOGS/worker.log  $LOGS/sandbox.log
  (Ctrl-C stops the web server, the worker and the sandbox)

EOF

# Stay up until a child stops (then say which) or a signal stops them all.
wait -n
for pid in "${!CHILDREN[@]}"; do
  kill -0 "$pid" 2>/dev/null || echo "make run: the ${CHILDREN[$pid]} stopped; see $LOGS/${CHILDREN[$pid]}.log" >&2
done
exit 1
