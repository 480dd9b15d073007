#!/bin/bash
# `make bench`: anketa against the ceilings of the machine it runs on, measured in the same
# command, and the budgets of docs/performance.md. Not part of `make test`.
#
# It starts nginx (the configuration of nginx.conf.example, gzip on) and `anketa serve` on a
# free loopback port, with a copy of a generated region (bench/gen.sql: 300 organisations,
# 100,000 participants, 1,000,000 responses; generated once, with a fixed seed, into
# BENCH_CACHE), and measures, BENCH_RUNS times each, median and spread (min-max):
#   1. questionnaire GET, 2. submission POST (a fresh link and its CSRF value per request),
#   3. dashboard GET (a curator's school, the region's methodologist), 4. recomputing every
#   indicator of the region, 5. CSV and XLSX export of all responses, 6. start-up with 100
#   questionnaires, 7. the workers' RSS after the load; and the questionnaire page's size over
#   the wire with gzip. The load is wrk, BENCH_CONNECTIONS connections for BENCH_SECONDS.
# The ceilings come from build/bench/fcgi_ceiling (bench/ceiling/fcgi_ceiling.c) behind the
# same nginx, with the same number of processes: the questionnaire's bytes, and one SQLite
# INSERT per request with anketa's synchronous setting. Rounds interleave anketa and the
# ceilings, so a neighbour's load on a shared machine weighs on both alike.
#
# Settings (environment):
#   BENCH_SECONDS=10      length of each wrk run (the school dashboard's single connection:
#                         half; the region's, whose requests take seconds: three times,
#                         and at least 30 s)
#   BENCH_RUNS=3          repetitions of every measurement (at least 3 for a median)
#   BENCH_XLSX_RUNS=      repetitions of the XLSX export (default BENCH_RUNS; it is slow)
#   BENCH_STARTUP_RUNS=9  repetitions of the start-up (cheap, and the most easily disturbed)
#   BENCH_CONNECTIONS=64  wrk's connections
#   BENCH_WORKERS=        anketa's (and the ceilings') worker processes (default: nproc)
#   BENCH_SYNC=FULL       anketa's --synchronous, and the INSERT ceiling's
#   BENCH_CACHE=/tmp/anketa-bench   where the generated database lives (about 2 GB)
#   BENCH_KEEP=0          1 keeps build/bench/var (logs, the database copy) afterwards
# Needs root only to install missing packages (make bench runs scripts/install-deps.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

secs=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
xlsx_runs=${BENCH_XLSX_RUNS:-$runs}
startup_runs=${BENCH_STARTUP_RUNS:-9}
conns=${BENCH_CONNECTIONS:-64}
workers=${BENCH_WORKERS:-$(nproc)}
sync=${BENCH_SYNC:-FULL}
cache=${BENCH_CACHE:-/tmp/anketa-bench}
bin=$root/build/anketa
ceiling=$root/build/bench/fcgi_ceiling
var=$root/build/bench/var
res=$var/results
# The staff accounts of the benchmark's own database, on loopback only.
password=bench-password-1
# The CSRF nonce the POST load presents; its csrf values were issued for it (fetch below).
nonce=BenchNonce0123456789ab
[ "$runs" -ge 1 ] || { echo "BENCH_RUNS must be at least 1" >&2; exit 2; }
[ -x "$bin" ] && [ -x "$ceiling" ] || { echo "run it as make bench" >&2; exit 2; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
note() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }
record() { printf '%s %s\n' "$1" "$2" >> "$res"; }

# ---------------------------------------------------------------------------------------------
# The data: generated once per version of bench/gen.sql and of the schema anketa creates
# (core/store.c holds it: a newer one regenerates rather than migrate a copy on every run).
mkdir -p "$cache"
pristine=$cache/region.db
tokens=$cache/post-tokens.txt
stamp=$(cat bench/gen.sql VERSION core/store.c | sha256sum | cut -c1-16)
if [ ! -s "$pristine" ] || [ "$(cat "$cache/region.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -f "$pristine" "$pristine"-* "$tokens" "$cache/region.stamp"
    note "generating the region (once; a few minutes) into $pristine"
    start=$(date +%s)
    "$bin" init --db "$pristine" >/dev/null
    sqlite3 -bail "$pristine" < bench/gen.sql
    # The generated links get the hash they are looked up by (anketa init hashes the links
    # other tools wrote with SQL), once here rather than at every run's first start.
    "$bin" init --db "$pristine" >/dev/null
    printf '%s\n' "$password" | "$bin" user add bench-curator --role curator \
        --org bench-org-0 --name "Куратор школы" --db "$pristine" >/dev/null
    printf '%s\n' "$password" | "$bin" user add bench-region --role methodologist \
        --org bench-region --name "Методист региона" --db "$pristine" >/dev/null
    sqlite3 "$pristine" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
    echo "$stamp" > "$cache/region.stamp"
    note "generated in $(( $(date +%s) - start )) s"
fi

# ---------------------------------------------------------------------------------------------
# Processes: nginx stays up; anketa and the ceiling responders take turns on one socket.
rm -rf "$var"
mkdir -p "$var"
: > "$res"
sock=$var/app.sock
free_port() {
    local p
    for p in $(seq "$1" $(( $1 + 500 ))); do
        ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
    echo "no free port from $1" >&2
    exit 1
}
port=$(free_port 18080)
base=http://127.0.0.1:$port
scripts/nginx-conf.sh "$root" "$var/nginx" "$port" "$sock" 1m "$var/nginx.conf"
# The best model measured in ../shared/MEASUREMENTS.md, for reference only: nginx keeps its
# upstream connections, and the responder has an accept loop for each one it may keep.
kport=$(free_port $(( port + 1 )))
ksock=$var/keep.sock
scripts/nginx-conf.sh "$root" "$var/nginx-keep" "$kport" "$ksock" 1m "$var/nginx-keep.conf"
sed -i -e 's/fastcgi_keep_conn off;/fastcgi_keep_conn on;/' \
    -e "s|server unix:$ksock;|server unix:$ksock; keepalive $conns;|" "$var/nginx-keep.conf"
grep -q "keepalive $conns;" "$var/nginx-keep.conf" || { echo "nginx-keep.conf: no keepalive" >&2; exit 1; }

nginx_pid= knginx_pid= server_pid=
cleanup() {
    trap - EXIT INT TERM
    for p in $server_pid $nginx_pid $knginx_pid; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$var"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nginx -p "$var/nginx" -c "$var/nginx.conf" -e "$var/nginx/nginx-error.log" -g 'daemon off;' &
nginx_pid=$!
nginx -p "$var/nginx-keep" -c "$var/nginx-keep.conf" -e "$var/nginx-keep/nginx-error.log" \
    -g 'daemon off;' &
knginx_pid=$!

# Waits until URL answers 200 (5 s at most).
wait_ok() {
    for _ in $(seq 500); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" = 200 ] && return 0
        sleep 0.01
    done
    echo "no answer from $1; the logs:" >&2
    tail -n 5 "$var/anketa.log" "$var/nginx/nginx-error.log" >&2 || true
    exit 1
}
start_anketa() { # DB [SURVEYS]
    "$bin" serve --db "$1" --socket "$sock" --socket-mode 0600 --surveys "${2:-surveys}" \
        --web web --lua lua --workers "$workers" --synchronous "$sync" --indicators-every 0 \
        --quiet 2>>"$var/anketa.log" &
    server_pid=$!
}
start_ceiling() { # SOCKET REPLY [options]
    local s=$1 reply=$2
    shift 2
    "$ceiling" --socket "$s" --reply "$reply" --workers "$workers" "$@" 2>>"$var/ceiling.log" &
    server_pid=$!
    for _ in $(seq 500); do [ -S "$s" ] && return 0; sleep 0.01; done
    echo "the ceiling responder did not start" >&2
    exit 1
}
stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    rm -f "$sock" "$ksock"
}

# One wrk run: NAME URL CONNECTIONS SECONDS MODE [ARGS...]; records NAME.rps, .p50, .p99 (ms),
# .load, and the failed requests (errors, timeouts after wrk_timeout seconds) for the report;
# stops the benchmark when none succeeded.
wrk_timeout=5
run_wrk() {
    local name=$1 url=$2 c=$3 d=$4 out line
    shift 4
    # Requests of an earlier run may still wait in the socket's queue (nginx passed them on
    # before wrk hung up): the health check answers once the workers are through them.
    curl -s -o /dev/null --max-time 60 "${url%%/s/*}/healthz" || true
    out=$(wrk -t"$(( c < 2 ? 1 : 2 ))" -c"$c" -d"${d}s" --timeout "${wrk_timeout}s" \
        -s bench/wrk/bench.lua "$url" \
        -- "$1" "$(( c < 2 ? 1 : 2 ))" "${@:2}")
    line=$(grep '^RESULT' <<< "$out") || { echo "$out" >&2; exit 1; }
    eval "local ${line#RESULT }"
    # shellcheck disable=SC2154 # set by the eval of wrk's RESULT line
    if [ "$requests" = 0 ]; then
        echo "$name: no request succeeded; wrk said:" >&2
        echo "$out" >&2
        exit 1
    fi
    [ "$errors" = 0 ] || record failed "$name:$errors/$requests"
    record "$name.rps" "$rps"
    record "$name.p50" "$(awk -v u="$p50_us" 'BEGIN { printf "%.2f", u / 1000 }')"
    record "$name.p99" "$(awk -v u="$p99_us" 'BEGIN { printf "%.2f", u / 1000 }')"
    record "$name.load" "$(load1)"
    last_requests=$(( requests - errors ))
    note "$name: $rps req/s, p99 $(( p99_us / 1000 )) ms (load $(load1))"
}

# ---------------------------------------------------------------------------------------------
# Set-up: the database copy, CSRF values for the POST links, the replies of the ceilings.
note "copying the region to $var"
db=$var/anketa.db
cp "$pristine" "$db"
start_anketa "$db"
wait_ok "$base/healthz"

if [ ! -s "$tokens" ]; then
    # A phone GETs its questionnaire (receiving the csrf value bound to its cookie) before it
    # posts: do those GETs once, for every open link, and keep the pairs with the data.
    note "fetching the csrf value of each of the 200,000 open links (once)"
    sqlite3 "$db" "SELECT token FROM invitations WHERE campaign_id IN (101, 102) ORDER BY id" \
        > "$var/open-tokens"
    # wrk sleeps out its duration whatever its threads do: interrupt it once each thread has
    # written (and closed) its file.
    wrk -t2 -c"$conns" -d600s --timeout 5s -s bench/wrk/bench.lua "$base" \
        -- fetch 2 "$var/open-tokens" "$var/fetched" "$nonce" > /dev/null &
    fetch_pid=$!
    want=$(wc -l < "$var/open-tokens")
    until [ "$(cat "$var"/fetched.* 2>/dev/null | wc -l)" -ge "$want" ]; do
        kill -0 "$fetch_pid" 2>/dev/null || break
        sleep 1
    done
    kill -INT "$fetch_pid" 2>/dev/null || true
    wait "$fetch_pid" || true
    sort "$var"/fetched.* > "$tokens.tmp"
    [ "$(wc -l < "$tokens.tmp")" = "$(wc -l < "$var/open-tokens")" ] ||
        { echo "fetched $(wc -l < "$tokens.tmp") csrf values, want 200000" >&2; exit 1; }
    mv "$tokens.tmp" "$tokens"
fi
ntokens=$(wc -l < "$tokens")
# The last two links are never posted by the load: one is the GET benchmark's, one is posted
# once here to capture anketa's reply to a submission.
get_token=$(sed -n "${ntokens}p" "$tokens" | cut -d' ' -f1)
read -r cap_token cap_csrf <<< "$(sed -n "$(( ntokens - 1 ))p" "$tokens")"
per_run=$(( (ntokens - 2) / runs ))
# A complete, valid answer to mentee-final, as its form posts it.
answers=$(tr -d '\n' <<'EOF'
q.met_before=yes&q.met_where=%D0%92%20%D1%88%D0%BA%D0%BE%D0%BB%D0%B5&q.effectiveness=8
&q.comfort=7&q.group_meetings=9&q.personal_meetings=8&q.joint_work=6&q.mentor_help=8
&q.plan_clarity=7&q.support=9&q.safety=10&q.expectations=8
&q.valued=%D0%9F%D0%BE%D0%B4%D0%B4%D0%B5%D1%80%D0%B6%D0%BA%D0%B0%20%D0%BD%D0%B0%D1%81%D1%82%D0%B0%D0%B2%D0%BD%D0%B8%D0%BA%D0%B0
&q.improve=&q.continue_programme=yes&q.become_mentor=no&q.self.goals=8&q.self.interest=7
&q.self.effort=9&q.self.planning=6&q.self.skills=7&q.self.teamwork=8
EOF
)

# The ceilings answer with anketa's own bytes: its headers (less those nginx writes) and body.
capture() { # HEADERS BODY OUT
    grep -viE '^(HTTP/|Server:|Date:|Connection:|Transfer-Encoding:|Content-Length:|Keep-Alive:)' \
        "$1" > "$3"
    cat "$2" >> "$3"
}
curl -s -D "$var/get.h" -o "$var/get.body" "$base/s/$get_token"
grep -q 'name="csrf"' "$var/get.body" || { echo "the questionnaire GET did not give a form" >&2; exit 1; }
capture "$var/get.h" "$var/get.body" "$var/reply-get"
status=$(curl -s -D "$var/post.h" -o "$var/post.body" -w '%{http_code}' \
    -H "Cookie: anketa_csrf=$nonce" --data "csrf=$cap_csrf&$answers" "$base/s/$cap_token")
[ "$status" = 303 ] || { echo "a submission got $status, not 303:" >&2; head -c 2000 "$var/post.body" >&2; exit 1; }
capture "$var/post.h" "$var/post.body" "$var/reply-post"
page_bytes=$(stat -c %s "$var/get.body")
for _ in $(seq "$runs"); do
    record gzip.kb "$(curl -s --compressed -H 'Accept-Encoding: gzip' -o /dev/null \
        -w '%{size_download}' "$base/s/$get_token" | awk '{ printf "%.1f", $1 / 1024 }')"
done

# Staff sessions: sign in as a person does, and keep the session cookie.
sign_in() { # LOGIN -> "anketa_session=..."
    local jar=$var/jar.$1 csrf code
    csrf=$(curl -s -c "$jar" "$base/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)
    code=$(curl -s -b "$jar" -c "$jar" -o /dev/null -w '%{http_code}' --data-urlencode "login=$1" \
        --data-urlencode "password=$password" --data-urlencode "csrf=$csrf" "$base/login")
    [ "$code" = 303 ] || { echo "signing in as $1 gave $code" >&2; exit 1; }
    awk '$6 == "anketa_session" { print "anketa_session=" $7 }' "$jar"
}
curator_cookie=$(sign_in bench-curator)
region_cookie=$(sign_in bench-region)
# The region's page takes seconds, and more than nginx's 30 s when the machine is busy (a
# 504 the report then shows): only the school's page is tried here.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $curator_cookie" "$base/dash/org/bench-org-0")
[ "$code" = 200 ] || { echo "/dash/org/bench-org-0 gave $code" >&2; exit 1; }
[ -n "$region_cookie" ] || { echo "no session for bench-region" >&2; exit 1; }
stop_server

open_responses() {
    sqlite3 "$db" "SELECT count(*) FROM responses r JOIN invitations i ON i.id = r.invitation_id
                   WHERE i.campaign_id IN (101, 102)"
}

# ---------------------------------------------------------------------------------------------
# Batch work first, on the generated data alone: the submissions of the rounds would take
# the region past an XLSX sheet's 1,048,575 rows.
# 4: every indicator of the region, for each of the five school years (1,000,000 responses).
timed() { # NAME COMMAND...: records NAME.s and NAME.mb (wall time, largest RSS)
    local name=$1 t
    shift
    /usr/bin/time -o "$var/time" -f '%e %M' "$@" > /dev/null
    read -r t kb < "$var/time"
    record "$name.s" "$t"
    record "$name.mb" "$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')"
    record "$name.load" "$(load1)"
    note "$name: $t s, $(( kb / 1024 )) MB (load $(load1))"
}
years="2022/23 2023/24 2024/25 2025/26 2026/27"
for r in $(seq "$runs"); do
    t0=$(date +%s%N)
    for y in $years; do
        "$bin" indicators run --region demo --org bench-region --period "$y" --db "$db" > /dev/null
    done
    record indicators.s "$(awk -v n=$(( $(date +%s%N) - t0 )) 'BEGIN { printf "%.3f", n / 1e9 }')"
    record indicators.load "$(load1)"
    timed indicators-year "$bin" indicators run --region demo --org bench-region --period 2026/27 --db "$db"
done

# 5: all responses of the region, as CSV and as XLSX.
for r in $(seq "$runs"); do
    timed csv "$bin" export responses --org bench-region --format csv --out "$var/export.csv" \
        --db "$db" --surveys surveys
done
rows=$(( $(wc -l < "$var/export.csv") - 1 ))
rm -f "$var/export.csv"
for r in $(seq "$xlsx_runs"); do
    timed xlsx "$bin" export responses --org bench-region --format xlsx --out "$var/export.xlsx" \
        --db "$db" --surveys surveys --plugin-dir build/plugins
    rm -f "$var/export.xlsx"
done

# 6: start-up with 100 questionnaires: 14 copies of the seven of surveys/ under new ids, and
# two more of the one that pairs with no other; from exec to the first answer of /healthz
# through nginx, asked over bash's own TCP (no process per try).
mkdir -p "$var/surveys100"
copy_survey() { # FILE SUFFIX: entry and final questionnaires name each other, renamed alike
    sed -e "s/^id: \(.*\)/id: \1-$2/" -e "s/^pairs_with_survey: \(.*\)/pairs_with_survey: \1-$2/" \
        "$1" > "$var/surveys100/$(basename "$1" .yaml)-$2.yaml"
}
for set in $(seq 14); do
    for f in surveys/*.yaml; do copy_survey "$f" "$set"; done
done
copy_survey surveys/curator-quality.yaml 15
copy_survey surveys/curator-quality.yaml 16
"$bin" check "$var/surveys100" > /dev/null
nsurveys=$(find "$var/surveys100" -name '*.yaml' | wc -l)
healthz() {
    local line
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    read -r line <&3 || true
    exec 3<&-
    [[ $line == *" 200 "* ]]
}
for r in $(seq "$startup_runs"); do
    t0=$(date +%s%N)
    start_anketa "$db" "$var/surveys100"
    until healthz 2>/dev/null; do
        kill -0 "$server_pid" 2>/dev/null || { echo "anketa did not start" >&2; exit 1; }
    done
    record startup.ms "$(awk -v n=$(( $(date +%s%N) - t0 )) 'BEGIN { printf "%.1f", n / 1e6 }')"
    record startup.load "$(load1)"
    stop_server
done

# ---------------------------------------------------------------------------------------------
# The rounds: anketa, then the ceilings, BENCH_RUNS times.
half=$(( secs > 1 ? secs / 2 : 1 ))
for r in $(seq "$runs"); do
    note "round $r of $runs"
    first=$(( (r - 1) * per_run ))
    start_anketa "$db"
    wait_ok "$base/healthz"
    run_wrk get "$base/s/$get_token" "$conns" "$secs" get
    before=$(open_responses)
    run_wrk post "$base" "$conns" "$secs" post "$tokens" "$first" "$per_run" "$nonce" "$answers"
    # Every acknowledged submission is in the database (requests in flight when wrk stopped
    # may be stored too, unacknowledged).
    stored=$(( $(open_responses) - before ))
    [ "$stored" -ge "$last_requests" ] ||
        { echo "post: $last_requests acknowledged, $stored stored" >&2; exit 1; }
    if [ "$last_requests" -ge "$per_run" ]; then
        echo "post: the load used up its $per_run fresh links; lower BENCH_SECONDS" >&2
        exit 1
    fi
    # Budget 3 is the time of one request: one connection, so no request waits for another.
    # The region's page takes seconds (docs/performance.md): give it time for a few.
    run_wrk dash-school-1 "$base/dash/org/bench-org-0" 1 "$half" get "$curator_cookie"
    wrk_timeout=30
    run_wrk dash-school "$base/dash/org/bench-org-0" "$conns" "$secs" get "$curator_cookie"
    run_wrk dash-region-1 "$base/dash/org/bench-region" 1 $(( secs < 10 ? 30 : 3 * secs )) get \
        "$region_cookie"
    wrk_timeout=5
    # 7: the resident memory of each worker after the load.
    max=0
    for w in $(pgrep -P "$server_pid"); do
        kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$w/status")
        [ "$kb" -gt "$max" ] && max=$kb
    done
    record rss.mb "$(awk -v k="$max" 'BEGIN { printf "%.1f", k / 1024 }')"
    record rss.load "$(load1)"
    stop_server

    start_ceiling "$sock" "$var/reply-get"
    run_wrk ceil-get "$base/s/$get_token" "$conns" "$secs" get
    stop_server
    rm -f "$var/ceiling.db"*
    start_ceiling "$sock" "$var/reply-post" --insert "$var/ceiling.db" --synchronous "$sync"
    run_wrk ceil-post "$base" "$conns" "$secs" post "$tokens" "$first" "$per_run" "$nonce" "$answers"
    stop_server
    # As many accept loops in each process as nginx may keep connections: none waits.
    start_ceiling "$ksock" "$var/reply-get" --threads "$conns"
    run_wrk keep-get "http://127.0.0.1:$kport/s/$get_token" "$conns" "$secs" get
    stop_server
    # The ratios of this round: anketa and its ceiling under the same neighbours' load.
    last() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$res"; }
    record ratio-get "$(awk -v a="$(last get.rps)" -v b="$(last ceil-get.rps)" 'BEGIN { printf "%.2f", a / b }')"
    record ratio-post "$(awk -v a="$(last post.rps)" -v b="$(last ceil-post.rps)" 'BEGIN { printf "%.2f", a / b }')"
    record ratio-keep "$(awk -v a="$(last ceil-get.rps)" -v b="$(last keep-get.rps)" 'BEGIN { printf "%.2f", a / b }')"
done

# ---------------------------------------------------------------------------------------------
# The report.
values() { awk -v k="$1" '$1 == k { print $2 }' "$res" | sort -g; }
median() { values "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { values "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }
row() { # LABEL KEY UNIT LOADKEY
    printf '  %-52s %9s %-5s %-19s load %s\n' "$1" "$(median "$2")" "$3" "($(spread "$2"))" \
        "$(spread "$4")"
}
cmp() { awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; }
verdict() { if "$@"; then echo PASS; else echo MISS; fi; }

echo
echo "anketa make bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r)"
echo "  $workers workers, synchronous=$sync, wrk $conns connections x ${secs} s, $runs runs;" \
     "median (min-max); load = 1-minute load average after each run"
echo "  load average (1, 5, 15 min): $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "  region: $(sqlite3 "$db" "SELECT count(*) FROM orgs WHERE level = 'organisation'") organisations," \
     "$(sqlite3 "$db" 'SELECT count(*) FROM participants') participants," \
     "$(sqlite3 "$db" 'SELECT count(*) FROM responses') responses (after the POST runs)"
echo
echo "throughput and latency through nginx"
row "1 questionnaire GET ($page_bytes B page)  req/s" get.rps req/s get.load
row "    p99" get.p99 ms get.load
row "  ceiling: libfcgi, the same bytes        req/s" ceil-get.rps req/s ceil-get.load
row "    p99" ceil-get.p99 ms ceil-get.load
row "  (ceiling with keep_conn on, $conns accept loops a process)" keep-get.rps req/s keep-get.load
row "2 submission POST, fresh link             req/s" post.rps req/s post.load
row "    p99" post.p99 ms post.load
row "  ceiling: libfcgi + 1 INSERT ($sync)    req/s" ceil-post.rps req/s ceil-post.load
row "    p99" ceil-post.p99 ms ceil-post.load
row "3 dashboard, school (curator)             req/s" dash-school.rps req/s dash-school.load
row "    one connection: median" dash-school-1.p50 ms dash-school-1.load
row "    one connection: p99" dash-school-1.p99 ms dash-school-1.load
row "  dashboard, region (methodologist)" dash-region-1.rps req/s dash-region-1.load
row "    one connection: median" dash-region-1.p50 ms dash-region-1.load
row "    one connection: p99" dash-region-1.p99 ms dash-region-1.load
echo
echo "ratios to the ceilings (each round's own, then their median)"
row "questionnaire GET / libfcgi, the same bytes" ratio-get "" get.load
row "submission POST / libfcgi + 1 INSERT" ratio-post "" post.load
row "libfcgi, keep_conn off / on" ratio-keep "" keep-get.load
echo
echo "batch work and processes"
row "4 indicators, the current school year (200k responses)" indicators-year.s s indicators-year.load
row "    all five school years (1M responses)" indicators.s s indicators.load
row "5 CSV export, $rows responses" csv.s s csv.load
row "    largest RSS" csv.mb MB csv.load
row "  XLSX export, $rows responses" xlsx.s s xlsx.load
row "    largest RSS" xlsx.mb MB xlsx.load
row "6 start-up with $nsurveys questionnaires" startup.ms ms startup.load
row "7 largest worker RSS after the load" rss.mb MB rss.load
row "  questionnaire page, gzip over the wire" gzip.kb KB get.load
if grep -q '^failed ' "$res"; then
    echo
    echo "failed requests (timeouts, errors) of a run / its requests: $(awk '$1 == "failed" { printf "%s ", $2 }' "$res")"
fi
echo
echo "budgets"
b() { printf '  %-58s %s\n' "$1" "$2"; }
b "1 GET >= 80% of its ceiling, p99 < 20 ms" "$(verdict eval 'cmp "$(median ratio-get)" ">=" 0.8 && cmp "$(median get.p99)" "<" 20')"
b "2 POST >= 80% of its ceiling, p99 < 20 ms" "$(verdict eval 'cmp "$(median ratio-post)" ">=" 0.8 && cmp "$(median post.p99)" "<" 20')"
b "3 dashboard < 5 ms a request (one connection, median)" "$(verdict eval 'cmp "$(median dash-school-1.p50)" "<" 5 && cmp "$(median dash-region-1.p50)" "<" 5')"
b "4 every indicator of the region < 1 s (the current year)" "$(verdict cmp "$(median indicators-year.s)" "<" 1)"
b "5 CSV export < 10 s, RSS < 50 MB" "$(verdict eval 'cmp "$(median csv.s)" "<" 10 && cmp "$(median csv.mb)" "<" 50')"
b "5 XLSX export < 10 s, RSS < 50 MB" "$(verdict eval 'cmp "$(median xlsx.s)" "<" 10 && cmp "$(median xlsx.mb)" "<" 50')"
b "6 start-up with 100 questionnaires < 100 ms" "$(verdict cmp "$(median startup.ms)" "<" 100)"
b "7 worker RSS < 20 MB" "$(verdict cmp "$(median rss.mb)" "<" 20)"
b "  questionnaire page < 30 KB with gzip" "$(verdict cmp "$(median gzip.kb)" "<" 30)"
