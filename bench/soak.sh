#!/usr/bin/env bash
# Soak: a fixed rate at 70% of the measured peak over a mix of every data endpoint family with
# distinct random queries (none answered from the response cache), beside 5,000 idle keep-alive
# connections held open throughout. Prints the server's RSS, threads and open file descriptors
# every minute, then the errors, statuses and latency percentiles of the run.
#
#   bench/soak.sh [minutes] [demo-db]
#       minutes defaults to 10; demo-db reuses a national demo database (sqlite file) instead of
#       building one (`haresign demo --no-serve --db sqlite://FILE`).
#       Needs wrk, oha (`cargo install oha`) and sqlite3.
#
# The server runs on the first half of the CPUs and the load generators on the other half, as a
# load generator on another machine would: sharing cores, the client's own scheduling delays are
# measured as the server's latency. SOAK_SHARED_CPUS=1 runs everything on every CPU.
# Latency is read from oha's record of every request (`--db-url`), from each one's scheduled
# start, leaving out the first WARMUP seconds; the whole run's figures are printed beside.
#
# For the seconds whose end-to-end p99 was over 10 ms and for the others, it prints the server's
# CPU use, its requests served and its handler time, so a slow server tells itself apart from a
# starved one. Figures are printed, never asserted: this machine is shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES="${1:-10}"
REUSE="${2:-}"
API=127.0.0.1:8096
IDLE=5000
# Seconds at the start of the soak left out of its percentiles: the load generator's own start
# (reading its URLs, opening its connections) delays its first requests, and with latency
# correction that delay would be counted as the server's.
WARMUP=10
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

need() { command -v "$1" >/dev/null 2>&1 || { echo "soak: $1 is required ($2)" >&2; exit 1; }; }
need wrk "apt-get install wrk"
need oha "cargo install oha"
need sqlite3 "apt-get install sqlite3"
ulimit -n "$(ulimit -Hn)"

CPUS=$(nproc)
if [ "${SOAK_SHARED_CPUS:-0}" = 1 ] || [ "$CPUS" -lt 2 ] || ! command -v taskset >/dev/null 2>&1; then
  ON_SERVER=()
  ON_CLIENT=()
  echo "cpus: server and load generators share all $CPUS"
else
  HALF=$((CPUS / 2))
  ON_SERVER=(taskset -c "0-$((HALF - 1))")
  ON_CLIENT=(taskset -c "$HALF-$((CPUS - 1))")
  echo "cpus: server on 0-$((HALF - 1)), load generators on $HALF-$((CPUS - 1))"
fi

cargo build --release --quiet --bin haresign
BIN=./target/release/haresign
if [ -n "$REUSE" ]; then
  DBFILE="$REUSE"
else
  DBFILE="$WORK/soak.db"
  echo "== building the national demo"
  $BIN --db "sqlite://$DBFILE" demo --dir "$WORK/data" --no-serve | grep "Demo ready"
fi
DB="sqlite://$DBFILE"
KEY=$($BIN --db "$DB" keys create --name soak --rate 1000000000/second 2>/dev/null)

# The idle connections must outlive the run, and all of them come from one address.
"${ON_SERVER[@]}" $BIN --db "$DB" serve --bind "$API" --idle-timeout "$((MINUTES + 2))m" \
  --max-connections 20000 --max-connections-per-peer 0 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 1 200); do curl -sf -o /dev/null "http://$API/healthz" && break; sleep 0.05; done

# A mix of every family: for each, 2,000 random practices (or PCNs, ICBs) with each one's query.
MONTH=$(sqlite3 "$DBFILE" "SELECT max(month) FROM gp_appointments")
OC_MONTH=$(sqlite3 "$DBFILE" "SELECT max(month) FROM online_consultations")
CBT_MONTH=$(sqlite3 "$DBFILE" "SELECT max(month) FROM cloud_telephony")
# awk, not sed: the prefixes hold `&`, which a sed replacement reads as the matched text.
practices() {
  sqlite3 "$DBFILE" "SELECT ods_code FROM practices ORDER BY random() LIMIT 2000" |
    awk -v before="$1" -v after="${2:-}" '{ print before $0 after }'
}
{
  practices "/api/v1/practices/?search="
  practices "/api/v1/practices/" "/population/"
  practices "/api/v1/list-sizes/?org="
  practices "/api/v1/nwrs/?snapshot=$(sqlite3 "$DBFILE" "SELECT max(snapshot) FROM nwrs")&practice="
  practices "/api/v1/qof/achievement/?year=2024/25&practice="
  practices "/api/v1/qof/prevalence/?practice="
  practices "/api/v1/gp-appointments/?month=$MONTH&practice="
  practices "/api/v1/online-consultations/?month=$OC_MONTH&practice="
  practices "/api/v1/cloud-telephony/?month=$CBT_MONTH&practice="
  practices "/api/v1/pcn-des/?practice="
  practices "/api/v1/gp-contract/values/?practice="
  practices "/api/v1/gp-patient-survey/?practice="
  practices "/api/v1/nhs-payments/practices/?practice="
  sqlite3 "$DBFILE" "SELECT DISTINCT icb_code FROM pcns" | sed 's|^|/api/v1/pcns/?icb=|'
  echo "/api/v1/qof/years/?"
  echo "/api/v1/nwrs/snapshots/?"
} | shuf >"$WORK/paths.txt"
echo "$(wc -l <"$WORK/paths.txt") distinct queries"

echo "== $IDLE idle keep-alive connections"
"${ON_CLIENT[@]}" python3 - "$API" "$IDLE" "$WORK/idle.count" "$WORK/idle.stop" <<'PY' &
import os, resource, selectors, socket, sys
host, port = sys.argv[1].split(":")
want, count_file, stop_file = int(sys.argv[2]), sys.argv[3], sys.argv[4]
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
# The sockets are watched with epoll, not polled: the load generators share these CPUs, and a
# pass over thousands of sockets would stall them and show up as the server's latency.
watched = selectors.DefaultSelector()
for _ in range(want):
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: soak\r\n\r\n")
    s.recv(4096)
    s.setblocking(False)
    watched.register(s, selectors.EVENT_READ)
open_now = want
while not os.path.exists(stop_file):
    with open(count_file, "w") as f:
        f.write(str(open_now))
    # A socket turns readable when the server closes it (or sends what it should not).
    for key, _ in watched.select(timeout=5):
        try:
            closed = key.fileobj.recv(1) == b""
        except BlockingIOError:
            closed = False
        except OSError:
            closed = True
        if closed:
            watched.unregister(key.fileobj)
            open_now -= 1
PY
IDLER=$!
for _ in $(seq 1 120); do [ -s "$WORK/idle.count" ] && break; sleep 1; done
echo "idle connections open: $(cat "$WORK/idle.count" 2>/dev/null || echo '?')"

# wrk takes its paths from the environment, which bounds one variable to 128 KB: a sample.
echo "== peak over the mix (wrk, 32 connections, 20 s, every request a cache miss, beside the idle connections)"
PEAK=$(PATHS="$(shuf -n 1500 "$WORK/paths.txt" | tr '\n' ' ')" KEY="$KEY" UNIQUE=1 \
  "${ON_CLIENT[@]}" wrk -t2 -c32 -d20s -s bench/report.lua "http://$API" |
  awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } print v["rps"] }')
RATE=$(echo "$PEAK * 0.7 / 1" | bc)
echo "peak ${PEAK} req/s; soak rate ${RATE} req/s for ${MINUTES} min"

sample() { # label
  local rss threads fds
  rss=$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$SERVER/status")
  threads=$(awk '/Threads/ { print $2 }' "/proc/$SERVER/status")
  fds=$(ls "/proc/$SERVER/fd" | wc -l)
  printf "%-10s RSS %4d MB   threads %3d   open fds %5d   idle connections open %s\n" \
    "$1" "$rss" "$threads" "$fds" "$(cat "$WORK/idle.count" 2>/dev/null || echo '?')"
}

echo "== soak: ${RATE} req/s for ${MINUTES} min"
awk -v api="$API" '{ print "http://" api $0 (index($0, "?") ? "&" : "?") "nocache=" NR }' "$WORK/paths.txt" >"$WORK/urls.txt"
sample "start"
# The server's CPU use each second, to tell a server that is slow from one that is starved.
"${ON_CLIENT[@]}" python3 - "$SERVER" "$WORK/cpu.txt" "$WORK/idle.stop" <<'PY' &
import os, sys, time
pid, out, stop = sys.argv[1], open(sys.argv[2], "w"), sys.argv[3]
tick = os.sysconf("SC_CLK_TCK")
def used():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick
before, then = used(), time.time()
while not os.path.exists(stop):
    time.sleep(1 - time.time() % 1)
    now, cpu = time.time(), used()
    out.write(f"{int(now) - 1} {100 * (cpu - before) / (now - then):.0f}\n")
    out.flush()
    before, then = cpu, now
PY
# -w: requests in flight when the time is up are waited for; without it oha aborts them and
# counts them as errors ("aborted due to deadline") that no server caused.
"${ON_CLIENT[@]}" oha --no-tui -z "${MINUTES}m" -w -q "$RATE" -c 64 --latency-correction \
  -H "Authorization: Bearer $KEY" --urls-from-file "$WORK/urls.txt" --output-format json \
  --db-url "$WORK/requests.db" >"$WORK/oha.json" &
LOAD=$!
for minute in $(seq 1 "$MINUTES"); do
  sleep 60
  sample "minute $minute"
done
wait "$LOAD"
touch "$WORK/idle.stop"
python3 - "$WORK/oha.json" "$WORK/requests.db" "$WARMUP" <<'PY'
import json, sqlite3, sys
data = json.load(open(sys.argv[1]))
statuses = data["statusCodeDistribution"]
errors = data.get("errorDistribution", {})
print(f"soak: {data['summary']['requestsPerSec']:.0f} req/s, statuses {statuses}, errors {errors or 'none'}")
# Latency from each request's scheduled start (latency correction), so time a request spent
# waiting for a free connection counts; oha's own start-up is left out as a warm-up.
db = sqlite3.connect(sys.argv[2])
first = db.execute("SELECT min(start_latency_correction) FROM oha").fetchone()[0]
warmup = float(sys.argv[3])
for label, since in ((f"after the first {warmup:.0f} s", first + warmup), ("every request", first)):
    ms = [r[0] * 1000 for r in db.execute(
        "SELECT end - start_latency_correction FROM oha WHERE start_latency_correction >= ? ORDER BY 1",
        (since,))]
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    print(f"  {label}: {len(ms)} requests, p50 {pick(0.5):.2f} ms, p99 {pick(0.99):.2f} ms, "
          f"p99.9 {pick(0.999):.2f} ms, max {ms[-1]:.2f} ms")
print("  (targets: no errors, p99 < 10 ms, RSS flat and < 100 MB)")
PY
wait "$IDLER" 2>/dev/null || true
sample "end"

echo "== the seconds whose end-to-end p99 was over 10 ms, against the others"
python3 - "$WORK/requests.db" "$WORK/serve.log" "$WORK/cpu.txt" "$WARMUP" <<'PY3'
import re, sqlite3, sys
from collections import defaultdict
from datetime import datetime
# Each request's second on the wall clock: oha's `run` is its start time in Unix seconds.
e2e = defaultdict(list)
rows = sqlite3.connect(sys.argv[1]).execute("SELECT run, start_latency_correction, end - start_latency_correction FROM oha")
for run, start, latency in rows:
    e2e[int(run + start)].append(latency * 1000)
handler = defaultdict(list)
stamp = re.compile(r"^(\S+)Z .*path=/api/v1/\S* status=\d+ latency_ms=([\d.]+)")
for text in open(sys.argv[2], errors="replace"):
    m = stamp.match(text)
    if m:
        second = int(datetime.fromisoformat(m.group(1) + "+00:00").timestamp())
        handler[second].append(float(m.group(2)))
cpu = {int(t): float(c) for t, c in (line.split() for line in open(sys.argv[3]))}
first = min(e2e) + int(float(sys.argv[4]))
seconds = [s for s in sorted(e2e) if s >= first and s in cpu and handler.get(s)]
p99 = lambda ms: sorted(ms)[int(0.99 * len(ms))]
slow = [s for s in seconds if p99(e2e[s]) > 10]
fast = [s for s in seconds if s not in slow]
def describe(label, group):
    if not group:
        print(f"  {label}: none")
        return
    mid = lambda xs: sorted(xs)[len(xs) // 2]
    served = mid([len(handler[s]) for s in group])
    mean = mid([sum(handler[s]) / len(handler[s]) for s in group])
    print(f"  {label}: {len(group)} s; per second (median): {served} requests served, "
          f"server CPU {mid([cpu[s] for s in group]):.0f}%, handler mean {mean:.3f} ms")
describe("p99 over 10 ms", slow)
describe("the others", fast)
print("  (a server whose CPU runs full and whose handler is slower while the offered rate holds has\n"
      "   been given less CPU per second than before: the machine, not the queue, changed)")
PY3

echo "== server-side latency by endpoint (access log), slowest p99 first"
python3 - "$WORK/serve.log" <<'PY2'
import re, sys
from collections import defaultdict
line = re.compile(r"path=(\S+) status=(\d+) latency_ms=([\d.]+)")
by_route = defaultdict(list)
for text in open(sys.argv[1], errors="replace"):
    m = line.search(text)
    if m and "/api/v1/" in m.group(1):
        route = re.sub(r"/[A-Z]\d{5}/", "/{ods_code}/", m.group(1).split("?")[0])
        by_route[route].append(float(m.group(3)))
rows = []
for route, ms in by_route.items():
    ms.sort()
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    rows.append((pick(0.99), route, len(ms), pick(0.5), ms[-1]))
for p99, route, n, p50, worst in sorted(rows, reverse=True):
    print(f"{route:45s} {n:8d} requests  p50 {p50:6.2f} ms  p99 {p99:7.2f} ms  max {worst:8.2f} ms")
PY2
