"""Checks one docs page as headless Chromium rendered it.

usage: check_page.py DOM NETLOG ORIGIN SCHEMA_JSON

- DOM (Chromium's --dump-dom) shows every operation of the schema, by operationId;
- NETLOG (Chromium's --log-net-log) holds the page's own requests: the page, its assets and the
  schema, all to ORIGIN. A request the page started to any other host fails the check. The
  browser's own traffic (update checks, autofill and the like) is not the page's and is listed
  apart; Chromium runs with every host but 127.0.0.1 unresolvable, so that cannot leave the
  machine either.
"""

import json
import sys


def fail(message):
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    dom_path, netlog_path, origin, schema_path = sys.argv[1:5]
    with open(schema_path) as f:
        schema = json.load(f)
    with open(dom_path, encoding="utf-8") as f:
        dom = f.read()
    operations = [
        op["operationId"]
        for item in schema["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    missing = [op for op in operations if op not in dom]
    if missing:
        fail(f"{dom_path}: operations not rendered: {missing}")
    print(f"  rendered all {len(operations)} operations: {', '.join(operations)}")

    with open(netlog_path) as f:
        netlog = json.load(f)
    names = {v: k for k, v in netlog["constants"]["logEventTypes"].items()}
    page, browser = [], []
    for event in netlog["events"]:
        params = event.get("params") or {}
        if names.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        # The page itself, and everything its document started (scripts, styles, images,
        # fetches), which Chromium logs with the page's origin as initiator.
        from_page = (
            params.get("request_type") == "main frame"
            or params.get("initiator") == origin
        )
        (page if from_page else browser).append(params["url"])
    if not page:
        fail(f"{netlog_path}: no request of the page was logged")
    elsewhere = [url for url in page if not url.startswith(origin + "/")]
    if elsewhere:
        fail(f"the page requested other hosts: {elsewhere}")
    if not any(url.startswith(origin + "/api/schema/") for url in page):
        fail("the page never fetched /api/schema/")
    print(f"  {len(page)} page requests, all to {origin}:")
    for url in page:
        print(f"    {url}")
    if browser:
        hosts = sorted({url.split("/")[2] for url in browser})
        print(f"  (browser background requests, unresolvable here: {', '.join(hosts)})")


main()
