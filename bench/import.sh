#!/usr/bin/env bash
# Import benchmark: every dataset's import of the demo's national files into a fresh database,
# on SQLite and on PostgreSQL, with its peak memory; then, for each dataset with big tables,
# the import's time against the database's own bulk loader (sqlite3 `.import`, psql `\copy`)
# of the same rows, as CSV, into the same tables with the same indexes.
#
#   bench/import.sh <demo-data-dir> <work-dir>     (bench/run.sh calls it after building the demo;
#                                                 HARESIGN_BIN picks another binary)
#   BENCH_ONLY="registrations qof" bench/import.sh …   only those datasets (and the ODS files
#                                                 every other import reads), to repeat a figure
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
# The datasets whose import is set against the databases' own bulk loaders. The reference
# loads every row the import leaves in the tables it filled (its rows as published, and what
# it derives from them) into tables of the same shape and indexes, so both write the same rows;
# the import also unzips and parses the publisher's layout.
COMPARED=(registrations nwrs qof appointments online-consultations cloud-telephony)
# Bookkeeping every import writes a little of, and tables an import rebuilds that were full before.
BOOKKEEPING="imports row_tallies schema_version"

# Whether a dataset is in BENCH_ONLY (all are when it is unset); the ODS files always are.
wanted() { # name
  [ -z "${BENCH_ONLY:-}" ] || [ "$1" = epraccur ] || [ "$1" = epcn ] || [[ " $BENCH_ONLY " == *" $1 "* ]]
}
need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is required ($2)" >&2; exit 1; }; }
need sqlite3 "apt-get install sqlite3"
need bc "apt-get install bc"

declare -A SECONDS_OF CPU_OF FILLED
SQLITE_DB="$WORK/import.db"
PG_URL="${HARESIGN_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
PG_SCHEMA="bench_import_$$"

# The tables holding at least one row, bookkeeping aside, one per line in sorted order.
nonempty_tables() { # backend-label
  local names
  if [ "$1" = sqlite ]; then
    names=$(sqlite3 "$SQLITE_DB" "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'")
  else
    names=$(psql "$PG_URL" -qAtc "SELECT tablename FROM pg_tables WHERE schemaname = '$PG_SCHEMA'")
  fi
  local name any
  for name in $names; do
    case " $BOOKKEEPING " in *" $name "*) continue ;; esac
    local probe="SELECT 1 FROM $name LIMIT 1"
    if [ "$1" = sqlite ]; then
      any=$(sqlite3 "$SQLITE_DB" "$probe")
    else
      any=$(psql "$PG_URL" -qAtc "SET search_path = $PG_SCHEMA; $probe")
    fi
    if [ -n "$any" ]; then echo "$name"; fi
  done | sort
}
# Imports every dataset into the database at $1; records each one's seconds under "$2 name".
import_all() { # url backend-label
  local name files out pattern path
  for line in "${DATASETS[@]}"; do
    read -r name files <<<"$line"
    wanted "$name" || continue
    # Published names hold spaces: the patterns are split, the paths they match are not.
    local paths=()
    for pattern in $files; do
      for path in "$DATA"/$pattern; do paths+=("$path"); done
    done
    local before
    before=$(nonempty_tables "$2")
    out=$( { /usr/bin/time -f "TIME %e %M %U %S" $BIN --db "$1" import "$name" "${paths[@]}"; } 2>&1 )
    FILLED["$2 $name"]=$(comm -13 <(echo "$before") <(nonempty_tables "$2") | tr '\n' ' ')
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

ratio() { # label dataset rows reference-seconds our-seconds [what the figure is held to]
  printf "%-8s %-21s %8d rows: reference %6.1f s, haresign import %6.1f s = %3.0f%% of the reference's speed (%s)\n" \
    "$1" "$2" "$3" "$4" "$5" "$(echo "$4 * 100 / $5" | bc -l)" "${6:-target >= 60%}"
}

echo "== import per dataset (the demo's national files, into a fresh database)"
rm -f "$SQLITE_DB"*
import_all "sqlite://$SQLITE_DB" sqlite

PG=0
if ! command -v psql >/dev/null 2>&1; then
  echo "postgres: skipped, psql is not installed (apt-get install postgresql-client)"
elif ! psql "$PG_URL" -qAtc "SELECT 1" >/dev/null 2>&1; then
  echo "postgres: skipped, $PG_URL does not answer (set HARESIGN_BENCH_DATABASE_URL)"
else
  PG=1
  trap 'psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE; DROP SCHEMA IF EXISTS ${PG_SCHEMA}_ref CASCADE" >/dev/null 2>&1 || true' EXIT
  # In public, or the import would install pg_trgm in the scratch schema and its drop would
  # take the extension from the whole database.
  psql "$PG_URL" -qc "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public" >/dev/null 2>&1 || true
  psql "$PG_URL" -qc "CREATE SCHEMA $PG_SCHEMA; CREATE SCHEMA ${PG_SCHEMA}_ref" >/dev/null
  case "$PG_URL" in *\?*) sep='&' ;; *) sep='?' ;; esac
  import_all "$PG_URL${sep}options[search_path]=$PG_SCHEMA" postgres
fi

echo "== import speed against the databases' own bulk loaders, loading the same rows into the same tables"
for dataset in "${COMPARED[@]}"; do
  wanted "$dataset" || continue
  tables=${FILLED["sqlite $dataset"]}
  raw="$WORK/raw.db"
  rm -f "$raw"
  rows=0
  commands=()
  for table in $tables; do
    sqlite3 -csv "$SQLITE_DB" "SELECT * FROM $table" >"$WORK/$table.csv"
    rows=$((rows + $(wc -l <"$WORK/$table.csv")))
    sqlite3 "$SQLITE_DB" ".schema $table" | sed '/CREATE TABLE sqlite_sequence/d' | sqlite3 "$raw"
    commands+=(".import $WORK/$table.csv $table")
  done
  echo "$dataset fills: $tables"
  read -r reference reference_cpu < <(
    { /usr/bin/time -f "TIME %e %U %S" sqlite3 "$raw" -cmd "PRAGMA journal_mode=wal" \
        -cmd "PRAGMA synchronous=normal" -cmd ".mode csv" "${commands[@]}" >/dev/null; } 2>&1 \
      | sed -nE 's/^TIME ([0-9.]+) ([0-9.]+) ([0-9.]+)$/\1 \2 + \3/p' | { read -r e c; echo "$e $(echo "$c" | bc)"; })
  ratio sqlite "$dataset" "$rows" "$reference" "${SECONDS_OF["sqlite $dataset"]}"
  # Both sides run in one process on SQLite, so their CPU times compare too.
  ratio "  (CPU)" "$dataset" "$rows" "$reference_cpu" "${CPU_OF["sqlite $dataset"]}" \
    "CPU time, for comparison: the target is on wall time"
  rm -f "$raw" "$WORK"/*.csv
  if [ "$PG" = 1 ]; then
    tables=${FILLED["postgres $dataset"]}
    rows=0
    copies=""
    for table in $tables; do
      psql "$PG_URL" -qc "\\copy $PG_SCHEMA.$table TO '$WORK/$table.csv' CSV"
      rows=$((rows + $(wc -l <"$WORK/$table.csv")))
      psql "$PG_URL" -qc "CREATE TABLE ${PG_SCHEMA}_ref.$table (LIKE $PG_SCHEMA.$table INCLUDING ALL)" >/dev/null
      copies+="\\copy ${PG_SCHEMA}_ref.$table FROM '$WORK/$table.csv' CSV"$'\n'
    done
    # One session, as the import is one, and in one transaction, as the import commits once.
    start=$(date +%s.%N)
    { echo "BEGIN;"; printf "%s" "$copies"; echo "COMMIT;"; } | psql "$PG_URL" -q -v ON_ERROR_STOP=1 >/dev/null
    end=$(date +%s.%N)
    ratio postgres "$dataset" "$rows" "$(echo "$end - $start" | bc)" "${SECONDS_OF["postgres $dataset"]}"
    rm -f "$WORK"/*.csv
  fi
done
