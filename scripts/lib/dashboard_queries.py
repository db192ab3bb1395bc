"""The Grafana dashboards' queries, checked against a real Prometheus.

    python3 dashboard_queries.py check PROMETHEUS_URL DASHBOARD_DIR DATASOURCE_DIR

For every dashboard JSON in DASHBOARD_DIR: each panel's datasource uid is one that
DATASOURCE_DIR provisions, and each Prometheus expression, with Grafana's variables
replaced by durations (GRAFANA_VARIABLES), is sent to PROMETHEUS_URL's /api/v1/query:
Prometheus's own parser judges it, and a parse error fails the check. Which metric
names the expressions use is checked against the services' real exposition by
e2e/tests/prometheus.rs.

The logs side, as data (Loki and Grafana cannot run here): the dashboard links to logs;
every link to Explore names a provisioned Loki datasource; and every LogQL stream
selector (links and Loki panels) uses only labels that Alloy (ALLOY_CONFIG) gives the
lines it ships.
"""

import glob
import json
import os
import re
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


# Alloy's configuration, beside the dashboards: deploy/observability/alloy/config.alloy.
ALLOY_CONFIG = os.path.join(os.path.dirname(__file__), "../../deploy/observability/alloy/config.alloy")


def alloy_labels(path=ALLOY_CONFIG):
    """The labels Alloy puts on the lines it ships: relabel targets and stage.labels keys."""
    text = open(path).read()
    labels = set(re.findall(r'target_label\s*=\s*"(\w+)"', text))
    for block in re.findall(r"stage\.labels\s*\{(.*?)\n\s*\}", text, re.S):
        labels.update(re.findall(r"(\w+)\s*=\s*\"\"", block))
    return labels


def selector_labels(logql):
    """The label names of a LogQL query's stream selector (its first {...})."""
    match = re.search(r"\{([^}]*)\}", re.sub(r"\$\{[^}]*\}", "x", logql))
    return set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", match.group(1))) if match else set()


def links(dashboard):
    """(where, url) of every link: the dashboard's, panels' and their data links."""
    for link in dashboard.get("links", []):
        yield "dashboard", link.get("url", "")
    for panel in panels(dashboard):
        title = panel.get("title", "?")
        for link in panel.get("links", []):
            yield f"panel {title!r}", link.get("url", "")
        for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
            yield f"panel {title!r} (data link)", link.get("url", "")


def explore_queries(url):
    """(datasource uid, query) of each pane of a Grafana Explore address."""
    if not url.startswith("/explore"):
        return []
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    panes = json.loads(re.sub(r"\$\{[^}]*\}", "x", query["panes"][0]))
    return [(pane.get("datasource"), q.get("expr", "")) for pane in panes.values() for q in pane.get("queries", [])]


def log_problems(path, dashboard, provisioned):
    """What is wrong with a dashboard's way to the logs."""
    problems, known, to_logs = [], alloy_labels(), 0
    for where, url in links(dashboard):
        for uid, expr in explore_queries(url):
            if provisioned.get(uid) != "loki":
                problems.append(f"{path}: {where}: Explore link to {uid!r}, not a provisioned Loki")
                continue
            to_logs += 1
            unknown = selector_labels(expr) - known
            if unknown:
                problems.append(f"{path}: {where}: {expr} selects on {sorted(unknown)}, labels Alloy does not set")
    for title, uid, kind, expr in targets(dashboard):
        if kind == "loki":
            to_logs += 1
            unknown = selector_labels(expr) - known
            if unknown:
                problems.append(f"{path}: panel {title!r}: {expr} selects on {sorted(unknown)}, labels Alloy does not set")
    if not to_logs:
        problems.append(f"{path}: no logs panel and no link to the logs")
    return problems, to_logs


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
    log_queries = 0
    for path in dashboards:
        dashboard = json.load(open(path))
        problems, count = log_problems(path, dashboard, provisioned)
        failures.extend(problems)
        log_queries += count
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
    print(f"{log_queries} ways to the logs (panels, links), each selecting only on labels Alloy sets: {sorted(alloy_labels())}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "check":
        sys.exit(__doc__)
    sys.exit(check(*sys.argv[2:]))
