"""Figures from oha's JSON reports, for the load scripts that compare cases in one run.

  oha_table.py row NAME BASELINE REPORT   prints one JSON line: the case NAME, the case
                                          it is compared with, 2xx answers per second,
                                          p50 and p99 in ms, and the statuses seen
  oha_table.py table ROWS                 prints the medians of each case's rows (one per
                                          round) and each one's ratio to its baseline
"""

import json
import sys
from collections import defaultdict


def row(name, baseline, report):
    r = json.load(open(report))
    summary, percentiles = r["summary"], r["latencyPercentiles"]
    codes = r.get("statusCodeDistribution", {})
    answered = sum(int(n) for code, n in codes.items() if code.startswith("2"))
    print(json.dumps({"name": name, "baseline": baseline,
                      "rate": answered / max(summary["total"], 1e-9),
                      "p50": percentiles["p50"] * 1000, "p99": percentiles["p99"] * 1000,
                      "codes": codes}))


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def table(rows_file):
    rows = defaultdict(list)
    for line in open(rows_file):
        case = json.loads(line)
        rows[case["name"]].append(case)
    print(f"\n{'case':38} {'2xx/s':>9} {'vs base':>8} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for name, runs in rows.items():
        rate = median([r["rate"] for r in runs])
        base = median([r["rate"] for r in rows[runs[0]["baseline"]]])
        print(f"{name:38} {rate:9.0f} {rate / base:7.2f}x {median([r['p50'] for r in runs]):8.2f}"
              f" {median([r['p99'] for r in runs]):8.2f}  {runs[-1]['codes']}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["row"] and len(sys.argv) == 5:
        row(*sys.argv[2:])
    elif sys.argv[1:2] == ["table"] and len(sys.argv) == 3:
        table(sys.argv[2])
    else:
        sys.exit(__doc__)
