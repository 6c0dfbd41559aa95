#!/usr/bin/env bash
# Import benchmark: every dataset's import of the demo's national files into a fresh database,
# on SQLite and on PostgreSQL, with its peak memory; then, for each big table, the import's
# time against the database's own bulk loader (sqlite3 `.import`, psql `\copy`) of the same
# rows, as CSV, into the same table with the same indexes.
#
#   bench/import.sh <demo-data-dir> <work-dir>     (bench/run.sh calls it after building the demo;
#                                                 HARESIGN_BIN picks another binary)
#
# PostgreSQL: HARESIGN_BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test; the
# imports run in a scratch schema dropped at the end. Figures are printed, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="$1"
WORK="$2"
BIN="${HARESIGN_BIN:-./target/release/haresign}"

# A dataset per line: the importer's source name and its files under the demo's data directory.
DATASETS=(
  "epraccur ods/epraccur.csv"
  "epcn ods/epcncorepartnerdetails.csv"
  "registrations registrations/*/*.csv"
  "nwrs nwrs/*"
  "qof qof/*.zip"
  "appointments Practice_Level_Crosstab_*.zip"
  "online-consultations online_consultations/*"
  "cloud-telephony cloud_telephony/*"
)
# A big table per line, and the dataset whose import fills it. The import also unzips and parses
# the publisher's layout, writes the dataset's other tables and rebuilds its served ones, so
# the comparison is in the reference's favour.
TABLES=(
  "nwrs nwrs"
  "qof_achievement qof"
  "reg_populations registrations"
  "gp_appointments appointments"
  "online_consultations online-consultations"
  "cloud_telephony_bands cloud-telephony"
)

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is required ($2)" >&2; exit 1; }; }
need sqlite3 "apt-get install sqlite3"
need bc "apt-get install bc"

declare -A SECONDS_OF CPU_OF
# Imports every dataset into the database at $1; records each one's seconds under "$2 name".
import_all() { # url backend-label
  local name files out pattern path
  for line in "${DATASETS[@]}"; do
    read -r name files <<<"$line"
    # Published names hold spaces: the patterns are split, the paths they match are not.
    local paths=()
    for pattern in $files; do
      for path in "$DATA"/$pattern; do paths+=("$path"); done
    done
    out=$( { /usr/bin/time -f "TIME %e %M %U %S" $BIN --db "$1" import "$name" "${paths[@]}"; } 2>&1 )
    read -r seconds rss user system < <(echo "$out" | sed -nE 's/^TIME ([0-9.]+) ([0-9]+) ([0-9.]+) ([0-9.]+)$/\1 \2 \3 \4/p')
    rows=$(echo "$out" | sed -nE 's/.*imported [0-9]+ file\(s\), ([0-9]+) rows.*/\1/p')
    SECONDS_OF["$2 $name"]=$seconds
    CPU_OF["$2 $name"]=$(echo "$user + $system" | bc)
    # CPU seconds too: on a shared machine they move less than wall time.
    printf "%-8s %-14s %9s rows %7.1f s (CPU %6.1f s) %9.0f rows/s   peak RSS %4d MB (target < 200 MB)\n" \
      "$2" "$name" "$rows" "$seconds" "${CPU_OF["$2 $name"]}" \
      "$(echo "${rows:-0} / ($seconds + 0.001)" | bc -l)" "$((rss / 1024))"
  done
}

ratio() { # label table rows reference-seconds our-seconds
  printf "%-8s %-16s %8d rows: reference %6.1f s, haresign import %6.1f s = %3.0f%% of the reference's speed (target >= 60%%)\n" \
    "$1" "$2" "$3" "$4" "$5" "$(echo "$4 * 100 / $5" | bc -l)"
}

echo "== import per dataset (the demo's national files, into a fresh database)"
SQLITE_DB="$WORK/import.db"
rm -f "$SQLITE_DB"*
import_all "sqlite://$SQLITE_DB" sqlite

PG_URL="${HARESIGN_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
PG_SCHEMA="bench_import_$$"
PG=0
if ! command -v psql >/dev/null 2>&1; then
  echo "postgres: skipped, psql is not installed (apt-get install postgresql-client)"
elif ! psql "$PG_URL" -qAtc "SELECT 1" >/dev/null 2>&1; then
  echo "postgres: skipped, $PG_URL does not answer (set HARESIGN_BENCH_DATABASE_URL)"
else
  PG=1
  trap 'psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE; DROP SCHEMA IF EXISTS ${PG_SCHEMA}_ref CASCADE" >/dev/null 2>&1 || true' EXIT
  psql "$PG_URL" -qc "CREATE SCHEMA $PG_SCHEMA; CREATE SCHEMA ${PG_SCHEMA}_ref" >/dev/null
  case "$PG_URL" in *\?*) sep='&' ;; *) sep='?' ;; esac
  import_all "$PG_URL${sep}options[search_path]=$PG_SCHEMA" postgres
fi

echo "== import speed against the databases' own bulk loaders"
for line in "${TABLES[@]}"; do
  read -r table dataset <<<"$line"
  csv="$WORK/$table.csv"
  raw="$WORK/raw-$table.db"
  sqlite3 -csv "$SQLITE_DB" "SELECT * FROM $table" >"$csv"
  rows=$(wc -l <"$csv")
  rm -f "$raw"
  sqlite3 "$SQLITE_DB" ".schema $table" | sqlite3 "$raw"
  read -r reference reference_cpu < <(
    { /usr/bin/time -f "TIME %e %U %S" sqlite3 "$raw" -cmd "PRAGMA journal_mode=wal" \
        -cmd "PRAGMA synchronous=normal" -cmd ".mode csv" ".import $csv $table" >/dev/null; } 2>&1 \
      | sed -nE 's/^TIME ([0-9.]+) ([0-9.]+) ([0-9.]+)$/\1 \2 + \3/p' | { read -r e c; echo "$e $(echo "$c" | bc)"; })
  ratio sqlite "$table" "$rows" "$reference" "${SECONDS_OF["sqlite $dataset"]}"
  # Both sides run in one process on SQLite, so their CPU times compare too.
  ratio "  (CPU)" "$table" "$rows" "$reference_cpu" "${CPU_OF["sqlite $dataset"]}"
  rm -f "$raw" "$csv"
  if [ "$PG" = 1 ]; then
    psql "$PG_URL" -qc "\\copy $PG_SCHEMA.$table TO '$csv' CSV"
    psql "$PG_URL" -qc "CREATE TABLE ${PG_SCHEMA}_ref.$table (LIKE $PG_SCHEMA.$table INCLUDING ALL)" >/dev/null
    start=$(date +%s.%N)
    psql "$PG_URL" -qc "\\copy ${PG_SCHEMA}_ref.$table FROM '$csv' CSV"
    end=$(date +%s.%N)
    ratio postgres "$table" "$rows" "$(echo "$end - $start" | bc)" "${SECONDS_OF["postgres $dataset"]}"
    rm -f "$csv"
  fi
done
