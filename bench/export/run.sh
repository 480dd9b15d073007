#!/bin/sh
# The export benchmark: writes 1,000,000 responses to mentee-final (bench/export/gen.sql) as
# CSV and as XLSX with the command line, the way an administrator exports a region, and
# prints the wall time and the largest resident memory of each run (the budget of issue 6:
# under 10 s and 50 MB). A measurement, not a test: not part of `make test`.
#
#   bench/export/run.sh [DB]     (default /tmp/anketa-bench-export.db; generating it takes
#                                 about a minute and 1.4 GB, and is done once)
#
# The exports are written to /tmp/anketa-bench-export.{csv,xlsx} and removed at the end.
# Needs the sqlite3 command-line shell to generate the data.
set -eu
cd "$(dirname "$0")/../.."
db=${1:-/tmp/anketa-bench-export.db}
make --no-print-directory build/anketa build/plugins/xlsx.so >/dev/null
if [ ! -e "$db" ]; then
    echo "generating $db ..."
    build/anketa init --db "$db" >/dev/null
    start=$(date +%s)
    sqlite3 "$db" < bench/export/gen.sql
    echo "generated in $(( $(date +%s) - start )) s: $(sqlite3 "$db" 'SELECT count(*) FROM responses') responses," \
         "$(sqlite3 "$db" 'SELECT count(*) FROM answers') answers"
fi
out=/tmp/anketa-bench-export
trap 'rm -f "$out.csv" "$out.xlsx" "$out.time"' EXIT
for format in csv xlsx; do
    for i in 1 2; do
        /usr/bin/time -o "$out.time" -f "%e s %M KB" \
            build/anketa export responses --org bench-region --survey mentee-final \
            --format "$format" --out "$out.$format" --db "$db" --surveys surveys \
            --plugin-dir build/plugins >/dev/null
        echo "$format: $(cat "$out.time"), $(stat -c %s "$out.$format") bytes"
    done
done
