#!/bin/sh
# The indicators benchmark: recomputes every indicator of lua/regions/demo for a region of
# 300 organisations and 1,000,200 responses (bench/indicators/gen.sql), the way the command
# line and the server do it (a child process, values stored). Not part of `make test`.
#
#   bench/indicators/run.sh [DB]     (default /tmp/anketa-bench-indicators.db; generating it
#                                     takes about a minute and 1 GB, and is done once)
#
# Prints, three times, the engine's own figure (the header line of the run: the wall time of
# computing every indicator for every organisation, and the largest Lua heap) and the time of
# the whole command. Needs the sqlite3 command-line shell to generate the data.
set -eu
cd "$(dirname "$0")/../.."
db=${1:-/tmp/anketa-bench-indicators.db}
make --no-print-directory build/anketa >/dev/null
if [ ! -e "$db" ]; then
    echo "generating $db ..."
    build/anketa init --db "$db" >/dev/null
    start=$(date +%s)
    sqlite3 "$db" < bench/indicators/gen.sql
    echo "generated in $(( $(date +%s) - start )) s: $(sqlite3 "$db" 'SELECT count(*) FROM responses') responses," \
         "$(sqlite3 "$db" 'SELECT count(*) FROM orgs WHERE level = '"'organisation'") organisations"
fi
out=/tmp/anketa-bench-indicators.out
for i in 1 2 3; do
    /usr/bin/time -o "$out.time" -f "  the whole command (load, fork, compute, store, print): %e s, max RSS %M KB" \
        build/anketa indicators run --region demo --org bench-region --period 2026/27 \
        --db "$db" > "$out"
    head -n 1 "$out"
    cat "$out.time"
done
