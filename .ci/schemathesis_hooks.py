"""Schemathesis hooks for haresign's CI (loaded through SCHEMATHESIS_HOOKS).

1. The schema view answers in YAML by default; parse it so that its responses are checked
   against the schema too.
2. A core-filter rule ("at least one of these query parameters") cannot be written in
   OpenAPI 3.0, so a generated request that gives none of an endpoint's core filters is valid
   by the schema and still refused with the documented 400. Exactly that rejection is dropped:
   a positive-data failure whose 400 body is the core-filter detail, for a request that indeed
   gave none of the filters the detail names.
3. A financial year must be one year and the next (2025/26, 2025-26, 202526, 2025/2026);
   "the next" is not expressible as a pattern, so a generated `year` that is not such a pair
   gets the documented 400 for that field. Exactly that rejection is dropped too.
Every other rejection still fails the run.
"""

import re

import schemathesis
import yaml

CORE_RULE = "At least one of these filters is required: "
FINANCIAL_YEAR_ERROR = ["Enter a valid financial year, such as 2025/26."]


def is_financial_year(value):
    """The server's rule (src/source/financial_year.rs `FinancialYear::parse_given`), for the values it accepts."""
    match = re.fullmatch(r"(\d{4})(?:[/-]?(\d{2})|/(\d{4}))", str(value).strip(), re.ASCII)
    if not match:
        return False
    first = int(match.group(1))
    second = match.group(2) or match.group(3)
    return int(second) == (first + 1) % (100 if match.group(2) else 10000)


def rejected_only_for_financial_year(body, query):
    if not isinstance(body, dict) or not body:
        return False
    return all(
        messages == FINANCIAL_YEAR_ERROR and not is_financial_year(query.get(field, ""))
        for field, messages in body.items()
    )


@schemathesis.deserializer("application/vnd.oai.openapi", "application/yaml")
def deserialize_yaml(ctx, response):
    return yaml.safe_load(response.content)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if getattr(failure, "code", None) != "ST202" or response.status_code != 400:
        return True
    try:
        body = response.json()
        detail = body.get("detail")
    except (ValueError, AttributeError):
        return True
    if rejected_only_for_financial_year(body, case.query or {}):
        return False
    if not isinstance(detail, str) or not detail.startswith(CORE_RULE):
        return True
    names = detail[len(CORE_RULE) :].rstrip(".").split(", ")
    query = case.query or {}
    gave_one = any(query.get(name) not in (None, "", []) for name in names)
    return gave_one
