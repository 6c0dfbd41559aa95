"""Every row of a haresign list endpoint, into pandas: page by page, then as one CSV download.

    HARESIGN_KEY=hs_... python fetch.py [BASE_URL] [ENDPOINT] [FILTER=VALUE ...]
    HARESIGN_KEY=hs_... python fetch.py http://127.0.0.1:8000 qof/achievement/ practice=A81001
"""

import io
import os
import sys

import httpx
import pandas as pd

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
endpoint = sys.argv[2] if len(sys.argv) > 2 else "practices/"
filters = dict(arg.split("=", 1) for arg in sys.argv[3:])
url = f"{base.rstrip('/')}/api/v1/{endpoint}"
headers = {"Authorization": f"Bearer {os.environ['HARESIGN_KEY']}"}


def every_page(client: httpx.Client):
    """Follows `next` links until the last page; each page holds at most 500 rows."""
    page_url, params = url, {**filters, "page_size": 500}
    while page_url:
        response = client.get(page_url, params=params)
        response.raise_for_status()
        body = response.json()
        yield from body["results"]
        page_url, params = body["next"], None  # `next` carries the filters already


with httpx.Client(headers=headers, timeout=120) as client:
    paged = pd.DataFrame(list(every_page(client)))

    # The same rows in one request: no page limit, values formatted as in JSON.
    response = client.get(url, params={**filters, "format": "csv"})
    response.raise_for_status()
    downloaded = pd.read_csv(io.StringIO(response.text), dtype=str, keep_default_na=False)

print(f"{endpoint}: {len(paged)} rows by page, {len(downloaded)} rows by CSV")
print(downloaded.head())
# Object fields (`measures`, `components`) arrive as dicts by page and as one CSV column per key.
scalars = [c for c in paged.columns if not paged[c].map(lambda v: isinstance(v, dict)).any()]
if len(paged) != len(downloaded) or not set(scalars) <= set(downloaded.columns):
    sys.exit("the paged rows and the CSV rows differ")
