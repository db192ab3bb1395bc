"""The Grafana dashboards' queries, checked against a real Prometheus.

    python3 dashboard_queries.py check PROMETHEUS_URL DASHBOARD_DIR DATASOURCE_DIR

For every dashboard JSON in DASHBOARD_DIR: each panel's datasource uid is one that
DATASOURCE_DIR provisions, and each Prometheus expression, with Grafana's variables
replaced by durations (GRAFANA_VARIABLES), is sent to PROMETHEUS_URL's /api/v1/query:
Prometheus's own parser judges it, and a parse error fails the check. Which metric
names the expressions use is checked against the services' real exposition by
e2e/tests/prometheus.rs.
"""

import glob
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

import yaml

# What Grafana puts in place of its variables; any valid duration parses the same way.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def panels(dashboard):
    """Every panel, rows' nested panels included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def targets(dashboard):
    """(panel title, datasource uid, expression) for each query of the dashboard."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            source = target.get("datasource") or panel.get("datasource") or {}
            yield panel.get("title", "?"), source.get("uid"), source.get("type"), target.get("expr", "")


def substitute(expr):
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def parse_error(prometheus, expr):
    """None when Prometheus accepts the expression, else its error."""
    query = urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(f"{prometheus}/api/v1/query?{query}", timeout=10) as reply:
            body = json.load(reply)
    except urllib.error.HTTPError as error:
        body = json.load(error)
    return None if body.get("status") == "success" else body.get("error", "unknown error")


def check(prometheus, dashboard_dir, datasource_dir):
    provisioned = {}
    for path in glob.glob(os.path.join(datasource_dir, "*.yml")):
        for source in yaml.safe_load(open(path)).get("datasources", []):
            provisioned[source["uid"]] = source["type"]
    failures, checked = [], 0
    dashboards = sorted(glob.glob(os.path.join(dashboard_dir, "*.json")))
    if not dashboards:
        failures.append(f"no dashboard in {dashboard_dir}")
    for path in dashboards:
        dashboard = json.load(open(path))
        for title, uid, kind, expr in targets(dashboard):
            if provisioned.get(uid) != kind:
                failures.append(f"{path}: panel {title!r}: datasource {kind}/{uid} is not provisioned")
            if kind != "prometheus":
                continue
            error = parse_error(prometheus, substitute(expr))
            checked += 1
            if error:
                failures.append(f"{path}: panel {title!r}: {expr}\n    {error}")
    for failure in failures:
        print(failure)
    if failures:
        return 1
    print(f"{checked} PromQL expressions in {len(dashboards)} dashboard(s) parse; datasources {sorted(provisioned)} provisioned")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "check":
        sys.exit(__doc__)
    sys.exit(check(*sys.argv[2:]))
