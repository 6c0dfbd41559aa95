#!/usr/bin/env python3
"""Fault scenarios against real processes, one line per scenario with its figures.

    bench/faults.sh [--scale 0.3] [--only kill,outage,nodes,sigterm,slow]

Each scenario starts `haresign` processes of its own (release build) on fresh databases under a
temporary directory: SQLite files, and a PostgreSQL instance this script initialises on its own
port and data directory (so that stopping it harms nothing else). Redis must be running on
127.0.0.1:6379; the two-node scenario uses its database 15 and empties it first.

Scenarios:
  kill     kill -9 of `import` at 10%, 50% and 90% of its duration (SQLite and PostgreSQL): the
           requests made meanwhile all see the previous data, the run is recorded as failed once
           `serve` restarts, and the same command then loads exactly the rows a clean import does.
  outage   PostgreSQL stopped (immediate shutdown) under `serve`, then started again: the 503s and
           their latency, /healthz, and how long after PostgreSQL is back requests succeed.
  nodes    two `serve` nodes on one PostgreSQL and one Redis with an import run beside them: the
           throttle budget across both, the lag before both serve the new data, and before both
           refuse a revoked key.
  sigterm  SIGTERM to `serve` under load (exit time, requests cut, usage written), and to `import`
           half-way (rolled back and recorded as failed).
  slow     a client trickling its request head (slowloris), and one that connects and says
           nothing: when the server closes each.

Figures are printed, never asserted as timings; a scenario whose outcome is wrong says FAIL.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "haresign")
PG_BIN = None
PG_PORT = 55432
REDIS_URL = "redis://127.0.0.1:6379/15"
FAILED = []


def report(name, ok, text):
    if not ok:
        FAILED.append(name)
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {text}", flush=True)


def run(*args, check=True, **kw):
    done = subprocess.run(args, check=False, capture_output=True, text=True, **kw)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def haresign(db, *args, check=True):
    return run(BIN, "--db", db, *args, check=check)


class Server:
    """A `haresign serve` process on its own port."""

    def __init__(self, db, port, work, *extra):
        self.port = port
        self.log = open(os.path.join(work, f"serve-{port}.log"), "a")
        self.proc = subprocess.Popen(
            [BIN, "--db", db, "serve", "--bind", f"127.0.0.1:{port}", *extra],
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                status, _, _ = request(port, "/healthz", timeout=1)
                if status:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"serve on {port} did not start")

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        self.proc.wait(30)
        self.log.close()


def request(port, path, key=None, timeout=15):
    """One GET on a fresh connection: (status, body bytes, seconds)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, body, time.monotonic() - started
    finally:
        conn.close()


def count(port, key, path):
    status, body, _ = request(port, path, key)
    if status != 200:
        return None
    return json.loads(body)["count"]


class Poller(threading.Thread):
    """Requests `path` in a loop and keeps every (status, count or body, latency)."""

    def __init__(self, port, key, path, pause=0.02):
        super().__init__(daemon=True)
        self.port, self.key, self.path, self.pause = port, key, path, pause
        self.seen = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                status, body, latency = request(self.port, self.path, self.key)
                value = json.loads(body).get("count") if status == 200 else body.decode()
                self.seen.append((status, value, latency))
            except OSError as error:
                self.seen.append((None, str(error), 0.0))
            time.sleep(self.pause)

    def stop(self):
        self.stopping.set()
        self.join()
        return self.seen


# ---------------------------------------------------------------------------------------------
# Databases


def sqlite_count(path, table):
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def psql(url, sql):
    return run("psql", url, "-XAtqc", sql).stdout.strip()


def table_rows(db, table):
    if db.startswith("sqlite://"):
        return sqlite_count(db[len("sqlite://"):], table)
    return int(psql(db, f"SELECT count(*) FROM {table}"))


def import_statuses(db, since_id):
    sql = f"SELECT id, status, coalesce(error, '') FROM imports WHERE id > {since_id} ORDER BY id"
    if db.startswith("sqlite://"):
        with sqlite3.connect(db[len("sqlite://"):]) as conn:
            return conn.execute(sql).fetchall()
    rows = psql(db, sql)
    return [tuple(line.split("|", 2)) for line in rows.splitlines() if line]


def last_import_id(db):
    sql = "SELECT coalesce(max(id), 0) FROM imports"
    if db.startswith("sqlite://"):
        with sqlite3.connect(db[len("sqlite://"):]) as conn:
            return conn.execute(sql).fetchone()[0]
    return int(psql(db, sql))


class Postgres:
    """A PostgreSQL instance of this script's own, started and stopped at will."""

    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        self.sock = os.path.join(work, "pgsock")
        os.makedirs(self.sock)
        os.chmod(work, 0o777)
        if os.geteuid() == 0:
            shutil.chown(self.sock, "postgres")
        run(*self.as_postgres(), f"{PG_BIN}/initdb", "-D", self.dir, "-A", "trust", "-U",
            "postgres")
        self.log = os.path.join(self.dir, "server.log")
        self.start()
        self.url = f"postgres://postgres@127.0.0.1:{PG_PORT}/postgres"

    def as_postgres(self):
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def start(self):
        options = f"-p {PG_PORT} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        started = run(*self.as_postgres(), f"{PG_BIN}/pg_ctl", "-D", self.dir, "-o", options,
                      "-l", self.log, "-w", "start", check=False)
        if started.returncode != 0:
            # The work directory goes with the run: the reason is only in the server's log.
            with open(self.log) as log:
                raise RuntimeError(f"PostgreSQL did not start: {log.read()[-2000:]}")

    def stop(self, mode="fast"):
        run(*self.as_postgres(), f"{PG_BIN}/pg_ctl", "-D", self.dir, "-m", mode, "-w", "stop")

    def database(self, name):
        psql(self.url, f"CREATE DATABASE {name}")
        return f"postgres://postgres@127.0.0.1:{PG_PORT}/{name}"


# ---------------------------------------------------------------------------------------------
# Data


def thinned(source, target):
    """The GPAD zip with every tenth data line of each CSV member left out: another release of
    the same months, so that a request can tell which release it was answered from."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.lower().endswith(".csv") and "mapping" not in info.filename.lower():
                lines = data.decode("utf-8-sig").splitlines(keepends=True)
                data = "".join(
                    line for i, line in enumerate(lines) if i == 0 or i % 10 != 0
                ).encode()
            zout.writestr(info, data)


def latest_month(db):
    sql = "SELECT max(month) FROM gp_appointments"
    if db.startswith("sqlite://"):
        with sqlite3.connect(db[len("sqlite://"):]) as conn:
            return str(conn.execute(sql).fetchone()[0])[:7]
    return psql(db, sql)[:7]


def new_key(db, *args):
    return haresign(db, "keys", "create", "--name", "faults", *args).stdout.strip()


def timed_import(db, *files):
    started = time.monotonic()
    haresign(db, "import", "appointments", *files)
    return time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# Scenarios


def kill_during_import(work, data, backend, db, clean_db, port):
    release_a, release_b = data["gpad"], data["gpad_thinned"]
    haresign(db, "migrate")
    timed_import(db, release_a)
    month = latest_month(db)
    rows_a = table_rows(db, "gp_appointments")
    duration = timed_import(clean_db, release_b)
    rows_clean = table_rows(clean_db, "gp_appointments")
    key = new_key(db, "--rate", "1000000/second")
    path = f"/api/v1/gp-appointments/?month={month}&page_size=1"
    server = Server(db, port, work)
    before = count(port, key, path)
    figures = []
    for fraction in (0.1, 0.5, 0.9):
        first_id = last_import_id(db)
        poller = Poller(port, key, path)
        poller.start()
        # The kill point is a share of a clean import's time; on a busy machine an import can
        # beat it, and is then undone (release A again) and tried with an earlier kill.
        kill_at = duration * fraction
        for _ in range(5):
            proc = subprocess.Popen([BIN, "--db", db, "import", "appointments", release_b],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(kill_at)
            if proc.poll() is None:
                break
            poller.stop()
            timed_import(db, release_a)
            first_id = last_import_id(db)
            poller = Poller(port, key, path)
            poller.start()
            kill_at *= 0.8
        proc.kill()
        proc.wait()
        time.sleep(0.3)
        seen = poller.stop()
        answers = [s for s in seen if s[0] == 200]
        stale = all(value == before for _, value, _ in answers) and len(answers) == len(seen)
        server.stop()
        server = Server(db, port, work)
        statuses = import_statuses(db, first_id)
        marked = bool(statuses) and all(
            status == "failed" and "abandoned" in error for _, status, error in statuses
        )
        rows_now = table_rows(db, "gp_appointments")
        ok = stale and marked and rows_now == rows_a
        figures.append(ok)
        report(
            f"kill -9 at {fraction:.0%} of import ({backend})",
            ok,
            f"killed {kill_at:.1f} s in (a clean import takes {duration:.1f} s); "
            f"{len(seen)} requests during it, {len(answers)} answered 200, all with the previous "
            f"count {before}: {stale}; run recorded {[s[1] for s in statuses]} after restart; "
            f"table rows {rows_now} (before {rows_a})",
        )
    poller = Poller(port, key, path)
    poller.start()
    rerun = timed_import(db, release_b)
    after = None
    deadline = time.time() + 5
    while time.time() < deadline:
        after = count(port, key, path)
        if after != before:
            break
        time.sleep(0.05)
    seen = poller.stop()
    server.stop()
    rows_after = table_rows(db, "gp_appointments")
    values = sorted({value for status, value, _ in seen if status == 200})
    ok = rows_after == rows_clean and all(s[0] == 200 for s in seen)
    report(
        f"rerun after the kills ({backend})",
        ok,
        f"import took {rerun:.1f} s (clean import {duration:.1f} s); rows {rows_after} "
        f"= clean import {rows_clean}: {rows_after == rows_clean}; served counts seen {values}",
    )
    return key


def outage(work, pg, db, key, port):
    month = latest_month(db)
    path = f"/api/v1/gp-appointments/?month={month}&page=2&page_size=3"
    server = Server(db, port, work, "--request-timeout", "5s")
    poller = Poller(port, key, path, pause=0.01)
    poller.start()
    time.sleep(1.0)
    stopped_at = len(poller.seen)
    pg.stop("immediate")
    time.sleep(4.0)
    health, health_body, _ = request(port, "/healthz")
    during = poller.seen[stopped_at:]
    pg.start()
    back = time.monotonic()
    recovered = None
    while time.monotonic() - back < 30:
        if poller.seen and poller.seen[-1][0] == 200:
            recovered = time.monotonic() - back
            break
        time.sleep(0.01)
    seen = poller.stop()
    server.stop()
    unavailable = [s for s in during if s[0] == 503]
    expected = '{"detail":"Service temporarily unavailable, try again later."}'
    exact = all(value == expected for _, value, _ in unavailable)
    other = sorted({str(s[0]) for s in during if s[0] not in (200, 503)})
    worst = max((s[2] for s in during), default=0.0)
    ok = bool(unavailable) and exact and health == 503 and recovered is not None and recovered < 5
    report(
        "PostgreSQL stopped and started under serve",
        ok,
        f"{len(during)} requests during the outage: {len(unavailable)} 503 with DRF's body "
        f"({exact}), other statuses {other or 'none'}, slowest {worst * 1000:.0f} ms "
        f"(limit 5000 ms); /healthz {health} {health_body.decode()}; "
        f"first 200 {recovered if recovered is None else round(recovered, 2)} s after "
        f"PostgreSQL was back (target < 5 s); {len(seen)} requests in all",
    )


def two_nodes(work, data, db, ports):
    run("redis-cli", "-n", "15", "FLUSHDB")
    extra = ("--redis-url", REDIS_URL)
    nodes = [Server(db, port, work, *extra) for port in ports]
    budget = 20
    throttled_key = new_key(db, "--rate", f"{budget}/minute")
    answers = []
    for i in range(2 * budget):
        status, _, _ = request(ports[i % 2], "/api/v1/pcns/?page_size=1", throttled_key)
        answers.append(status)
    allowed = answers.count(200)
    report(
        "two nodes, one Redis: throttle budget",
        allowed == budget and answers[:budget] == [200] * budget,
        f"key with {budget}/minute, {2 * budget} requests alternating between the nodes: "
        f"{allowed} allowed, {answers.count(429)} throttled",
    )

    key = new_key(db, "--rate", "1000000/second")
    month = latest_month(db)
    path = f"/api/v1/gp-appointments/?month={month}&page_size=1"
    before = [count(port, key, path) for port in ports]
    started = time.monotonic()
    haresign(db, "import", "appointments", data["gpad"])
    imported = time.monotonic()
    lags = [None, None]
    while time.monotonic() - imported < 10 and None in lags:
        for i, port in enumerate(ports):
            if lags[i] is None and count(port, key, path) != before[i]:
                lags[i] = time.monotonic() - imported
        time.sleep(0.02)
    report(
        "two nodes: an import run beside them",
        None not in lags,
        f"import {imported - started:.1f} s; new data served by each node "
        f"{[None if lag is None else round(lag, 2) for lag in lags]} s after it returned "
        f"(documented lag: the response cache's 1 s check interval)",
    )

    revoked_at = time.monotonic()
    haresign(db, "keys", "revoke", key)
    done = time.monotonic()
    refused = [None, None]
    while time.monotonic() - done < 15 and None in refused:
        for i, port in enumerate(ports):
            if refused[i] is None and request(port, "/api/v1/pcns/?page_size=1", key)[0] == 401:
                refused[i] = time.monotonic() - done
        time.sleep(0.05)
    for node in nodes:
        node.stop()
    report(
        "two nodes: a revoked key",
        None not in refused,
        f"revoke took {done - revoked_at:.2f} s; refused (401) by each node "
        f"{[None if r is None else round(r, 2) for r in refused]} s after "
        f"(documented lag: the key cache's 5 s)",
    )


def load_client(port, key, paths, stop, tally):
    conn = None
    i = 0
    while not stop.is_set():
        path = paths[i % len(paths)]
        i += 1
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        except OSError:
            tally["refused"] += 1
            conn = None
            time.sleep(0.01)
            continue
        try:
            response = conn.getresponse()
            response.read()
            tally[response.status] = tally.get(response.status, 0) + 1
        except http.client.RemoteDisconnected:
            # Closed before it read the request: a keep-alive connection the shutdown closed.
            tally["closed before read"] += 1
            conn = None
        except (http.client.IncompleteRead, OSError):
            tally["cut"] += 1
            conn = None


def sigterm(work, data, db, port):
    key = new_key(db, "--rate", "1000000/second")
    month = latest_month(db)
    paths = [
        "/api/v1/practices/?search=a",
        "/api/v1/pcns/?page_size=50",
        f"/api/v1/gp-appointments/?month={month}&page=3",
        "/api/v1/qof/years/",
    ]
    server = Server(db, port, work)
    stop = threading.Event()
    tallies = [{"refused": 0, "cut": 0, "closed before read": 0} for _ in range(16)]
    threads = [
        threading.Thread(target=load_client, args=(port, key, paths, stop, t), daemon=True)
        for t in tallies
    ]
    for t in threads:
        t.start()
    time.sleep(3)
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(30)
    exited = time.monotonic() - signalled
    server.log.close()
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    total = {}
    for t in tallies:
        for k, v in t.items():
            total[k] = total.get(k, 0) + v
    answered = sum(v for k, v in total.items() if isinstance(k, int))
    usage = json.loads(haresign(db, "keys", "usage", "--json").stdout)
    prefix = key[:11]
    counted = sum(
        row.get("requests", 0) for row in usage if str(row.get("prefix", "")).startswith(prefix)
    )
    ok = total["cut"] == 0 and exited < 10 and counted == answered
    report(
        "SIGTERM to serve under load",
        ok,
        f"16 clients, {answered} answered ({ {k: v for k, v in total.items() if isinstance(k, int)} }), "
        f"{total['cut']} cut mid-response, {total['closed before read']} keep-alive connections "
        f"closed between requests, {total['refused']} refused after the listener closed; exited "
        f"{exited:.2f} s after the signal (code {server.proc.returncode}, target < 10 s); "
        f"usage written {counted} = answered {answered}",
    )

    rows_before = table_rows(db, "gp_appointments")
    first_id = last_import_id(db)
    duration = data["import_seconds"]
    proc = subprocess.Popen([BIN, "--db", db, "import", "appointments", data["gpad"]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(duration * 0.5)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    exited = time.monotonic() - signalled
    statuses = import_statuses(db, first_id)
    rows_after = table_rows(db, "gp_appointments")
    ok = (proc.returncode != 0 and rows_after == rows_before and statuses
          and all(s[1] == "failed" and "interrupted" in s[2] for s in statuses))
    report(
        "SIGTERM to import half-way",
        ok,
        f"exited {exited:.2f} s after the signal with code {proc.returncode}; run recorded "
        f"{[s[1] for s in statuses]} ({statuses[0][2] if statuses else '-'}); rows {rows_after} "
        f"(before {rows_before})",
    )


def slow_clients(work, db, port):
    server = Server(db, port, work, "--header-timeout", "2s", "--idle-timeout", "3s")

    def closed_after(send):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.settimeout(30)
        started = time.monotonic()
        send(sock)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
        sock.close()
        return time.monotonic() - started

    def trickle(sock):
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        for _ in range(20):
            try:
                sock.sendall(b"X-a: b\r\n")
            except OSError:
                return
            time.sleep(0.5)

    slowloris = closed_after(trickle)
    silent = closed_after(lambda sock: None)

    def idle(sock):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")

    kept = closed_after(idle)
    server.stop()
    report(
        "slow clients",
        slowloris < 5 and silent < 5 and kept < 6,
        f"trickled head closed after {slowloris:.1f} s, silent connection after {silent:.1f} s "
        f"(header timeout 2 s); idle keep-alive after a response closed after {kept:.1f} s "
        f"(idle timeout 3 s)",
    )


def main():
    global PG_BIN
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--only", default="kill,outage,nodes,sigterm,slow")
    args = parser.parse_args()
    only = set(args.only.split(","))
    versions = sorted(os.listdir("/usr/lib/postgresql")) if os.path.isdir("/usr/lib/postgresql") else []
    PG_BIN = f"/usr/lib/postgresql/{versions[-1]}/bin" if versions else None

    work = tempfile.mkdtemp(prefix="haresign-faults-")
    pg = None
    try:
        print(f"== demo files at scale {args.scale} in {work}", flush=True)
        demo_db = f"sqlite://{work}/demo.db"
        run(BIN, "--db", demo_db, "demo", "--scale", str(args.scale), "--no-serve",
            "--dir", f"{work}/data")
        gpad = next(
            os.path.join(f"{work}/data", f) for f in os.listdir(f"{work}/data")
            if f.startswith("Practice_Level_Crosstab")
        )
        thin = os.path.join(work, "Practice_Level_Crosstab_thinned.zip")
        thinned(gpad, thin)
        data = {"gpad": gpad, "gpad_thinned": thin}

        sqlite_db = f"sqlite://{work}/faults.db"
        if "kill" in only or "sigterm" in only or "slow" in only:
            haresign(sqlite_db, "migrate")
            clean = f"sqlite://{work}/clean.db"
            haresign(clean, "migrate")
            if "kill" in only:
                kill_during_import(work, data, "sqlite", sqlite_db, clean, 18301)
            else:
                timed_import(sqlite_db, thin)
            data["import_seconds"] = timed_import(f"sqlite://{work}/timing.db", gpad)
        needs_pg = only & {"kill", "outage", "nodes"}
        if needs_pg:
            if PG_BIN is None:
                print("skipped: the PostgreSQL scenarios need PostgreSQL's server binaries")
            else:
                pg = Postgres(work)
                pg_db = pg.database("faults")
                clean = pg.database("clean")
                haresign(clean, "migrate")
                haresign(pg_db, "migrate")
                if "kill" in only:
                    key = kill_during_import(work, data, "postgres", pg_db, clean, 18302)
                else:
                    timed_import(pg_db, data["gpad_thinned"])
                    key = new_key(pg_db, "--rate", "1000000/second")
                if "outage" in only:
                    outage(work, pg, pg_db, key, 18303)
                if "nodes" in only:
                    two_nodes(work, data, pg_db, (18304, 18305))
        if "sigterm" in only:
            sigterm(work, data, sqlite_db, 18306)
        if "slow" in only:
            slow_clients(work, sqlite_db, 18307)
    finally:
        if pg is not None:
            try:
                pg.stop("immediate")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(work, ignore_errors=True)
    if FAILED:
        print(f"{len(FAILED)} scenario(s) failed: {', '.join(FAILED)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
