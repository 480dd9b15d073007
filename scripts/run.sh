#!/bin/bash
# `make run`: a demo database, anketa and nginx on 127.0.0.1:PORT, in the foreground.
# Ctrl-C stops both. Running it again reuses the database and replaces its own leftovers.
set -euo pipefail
port=${1:-8080}
root=$(cd "$(dirname "$0")/.." && pwd)
var=$root/var
bin=$root/build/anketa
cd "$root"
# The database holds personal links and children's answers.
umask 077
mkdir -p "$var"

# Stops what a pid file names, but only if it is still ours: after a reboot the number may
# belong to another program.
stop_pidfile() {
    local f=$1 want=$2 pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$want"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$f"
}
stop_pidfile "$var/nginx.pid" "nginx"
stop_pidfile "$var/anketa.pid" "anketa serve"

"$bin" init --db "$var/anketa.db" >/dev/null
links=$("$bin" demo --db "$var/anketa.db" --surveys surveys --samples docs/samples)
# The demo's past school years, computed once as the server would have in those years (it
# keeps only the current one computed): the dashboards' trends and the report need them.
year=
while read -r kind period _; do
    [ "$kind" = period ] || continue
    year=$period
    "$bin" indicators run --region demo --period "$period" --db "$var/anketa.db" --lua lua \
        >/dev/null
done <<< "$links"
"$root/scripts/nginx-conf.sh" "$root" "$var" "$port" "$var/anketa.sock" 1m "$var/nginx.conf"

anketa_pid= nginx_pid=
cleanup() {
    trap - INT TERM EXIT
    # SIGQUIT: nginx finishes the requests it is serving, then stops.
    [ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null || true
    [ -n "$anketa_pid" ] && kill -TERM "$anketa_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    # A newer `make run` may have taken over: leave its pid file alone.
    [ "$(cat "$var/anketa.pid" 2>/dev/null)" = "$anketa_pid" ] && rm -f "$var/anketa.pid"
    echo "anketa and nginx stopped."
}
trap "cleanup; exit 0" INT TERM
trap cleanup EXIT

# The shipped plugins, with the jsonl plugin appending every event to var/events.jsonl. This
# file is the whole configuration of the run: /etc/anketa/anketa.conf is not read.
printf 'plugin.jsonl.path = %s\nplugin.jsonl.fsync = none\n' "$var/events.jsonl" \
    > "$var/run.conf"
"$bin" serve --config "$var/run.conf" --db "$var/anketa.db" --socket "$var/anketa.sock" \
    --socket-mode 0600 --surveys surveys --web web --lua lua --region demo --max-body 1m \
    --plugin-dir build/plugins 2>>"$var/anketa.log" &
anketa_pid=$!
echo "$anketa_pid" > "$var/anketa.pid"
for _ in $(seq 100); do [ -S "$var/anketa.sock" ] && break; sleep 0.1; done
if [ ! -S "$var/anketa.sock" ]; then
    echo "anketa did not start; its log says:" >&2
    tail -n 20 "$var/anketa.log" >&2
    exit 1
fi

nginx -p "$var" -c "$var/nginx.conf" -e "$var/nginx-error.log" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
        echo "nginx did not start (is port $port taken? try: make run PORT=8081):" >&2
        tail -n 5 "$var/nginx-error.log" >&2
        exit 1
    fi
    sleep 0.1
done
if ! curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then
    echo "anketa does not answer through nginx on port $port; the logs say:" >&2
    tail -n 5 "$var/anketa.log" "$var/nginx-error.log" >&2
    exit 1
fi

base="http://127.0.0.1:$port"
echo
echo "anketa is running at $base  (logs: var/anketa.log, var/nginx-error.log; Ctrl-C stops)"
echo
while read -r survey state token; do
    case $state in
        unanswered) echo "  questionnaire to answer ($survey):  $base/s/$token" ;;
        answered)   echo "  questionnaire already answered ($survey):  $base/s/$token" ;;
    esac
done <<< "$links"
echo
echo "  staff pages: sign in at $base/login (new passwords at every start of make run)"
while read -r kind login password role org; do
    [ "$kind" = staff ] || continue
    home=$base/dash
    [ "$org" != - ] && home="$base/dash/org/$org?period=$year"
    printf '    %-14s login %-14s password %s  ->  %s\n' "$role" "$login" "$password" "$home"
done <<< "$links"
echo "  the analytical report of the region:  $base/dash/org/demo-region/report?period=$year"
echo
echo "  survey definitions (JSON):  $base/api/v1/surveys"
echo "  a plugin's route:  $base/api/v1/plugins/template/hello?name=Ivan"
echo "  events of the jsonl plugin:  var/events.jsonl"
echo "  health check:  $base/healthz"
echo
# Whichever stops first (a crash, a kill) ends the run: no nginx answering 502 alone.
status=0
wait -n "$anketa_pid" "$nginx_pid" || status=$?
echo "anketa or nginx stopped (status $status); see var/anketa.log and var/nginx-error.log" >&2
exit "$status"
