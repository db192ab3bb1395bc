"""Which pod may open which port on which other pod, computed from rendered
NetworkPolicies the way Kubernetes applies them, asserted against Tally's access
matrix; and the same matrix against compose.yaml's networks, so the two deployments
cannot drift apart.

A connection is allowed when the source may send it (no policy of type Egress selects
the source, or one of those that do allows it) and the destination may take it (the
same for Ingress). A peer is a pod selector in the policy's namespace, a namespace
selector, both, or an address block (the world outside the cluster).

  k8s_netpol.py RENDERED.yaml COMPOSE.yaml
"""

import copy
import sys

import yaml

NAMESPACE = "tally"

# The pods the policies speak of. Tally's own come from the rendered Deployments; the
# rest stand for what the cluster runs beside them: the data tier (labelled as
# deploy/kubernetes/base/network-policies.yaml says), the cluster's DNS, the Prometheus
# Operator's Prometheus, and a voter's phone outside the cluster.
OTHER_PODS = {
    "redis": (NAMESPACE, {"app.kubernetes.io/component": "redis"}, [6379]),
    "postgres": (NAMESPACE, {"cnpg.io/cluster": "tally-db"}, [5432, 8000]),
    "cnpg-operator": ("cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"}, []),
    "dns": ("kube-system", {"k8s-app": "kube-dns"}, [53]),
    "prometheus": ("monitoring", {"app.kubernetes.io/name": "prometheus"}, [9090]),
    "outside": (None, {}, []),
}

# Tally's access matrix: every connection any pod needs, and so all that is allowed
# (DESIGN.md's networks, port by port).
NEEDED = {
    ("outside", "edge", 8080),
    ("edge", "vote", 8081), ("edge", "result", 8082),
    ("vote", "redis", 6379),
    ("worker", "redis", 6379), ("worker", "postgres", 5432),
    ("result", "redis", 6379), ("result", "postgres", 5432),
    ("prometheus", "edge", 9180), ("prometheus", "vote", 9181),
    ("prometheus", "result", 9182), ("prometheus", "worker", 9183),
    ("cnpg-operator", "postgres", 8000),
} | {(pod, "dns", 53) for pod in ("edge", "vote", "result", "worker", "redis", "postgres")}

# Ports anyone may open, inside the cluster or out: the voters' way in.
PUBLIC = {("edge", 8080)}

# What the issue names outright, asserted on its own so that a change to NEEDED cannot
# quietly allow it: the database is out of the vote service's and the edge's reach, the
# edge never touches Redis, the worker never calls the edge.
FORBIDDEN = {
    ("vote", "postgres", 5432), ("edge", "redis", 6379), ("edge", "postgres", 5432),
    ("worker", "edge", 8080), ("redis", "postgres", 5432), ("postgres", "redis", 6379),
    ("redis", "edge", 8080), ("postgres", "edge", 8080),
}

# The Kubernetes pods under their compose.yaml service names; None: compose has no such
# service (a name server, an operator), so compose has nothing to offer for it.
COMPOSE_NAMES = {"dns": None, "cnpg-operator": None}


def tally_pods(docs):
    pods = {}
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        template = doc["spec"]["template"]
        ports = [port["containerPort"]
                 for container in template["spec"]["containers"]
                 for port in container.get("ports", [])]
        pods[doc["metadata"]["name"]] = (NAMESPACE, template["metadata"]["labels"], ports)
    return pods


def matches(selector, labels):
    if selector is None:
        return True
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def peer_matches(peer, policy_namespace, pod):
    namespace, labels, _ = pod
    if "ipBlock" in peer:
        return namespace is None
    if namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace}):
            return False
    elif namespace != policy_namespace:
        return False
    return matches(peer.get("podSelector", {}), labels)


def rule_allows(rule, side, other, port):
    peers = rule.get(side)
    if peers is not None and not any(peer_matches(p, NAMESPACE, other) for p in peers):
        return False
    ports = rule.get("ports")
    return ports is None or any(p.get("port") in (None, port) for p in ports)


def direction_allows(policies, kind, pod, other, port):
    """Whether `pod`'s policies of `kind` (Ingress or Egress) let it talk to `other`."""
    namespace, labels, _ = pod
    if namespace != NAMESPACE:
        return True  # only Tally's namespace has policies here
    applying = [p for p in policies
                if kind in p["spec"].get("policyTypes", ["Ingress"])
                and matches(p["spec"]["podSelector"], labels)]
    if not applying:
        return True
    rules, side = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    return any(rule_allows(rule, side, other, port)
               for policy in applying for rule in policy["spec"].get(rules, []))


def allowed_connections(docs):
    policies = [doc for doc in docs if doc["kind"] == "NetworkPolicy"]
    pods = {**tally_pods(docs), **OTHER_PODS}
    allowed = set()
    for source, source_pod in pods.items():
        for target, target_pod in pods.items():
            for port in target_pod[2]:
                if source != target and \
                        direction_allows(policies, "Egress", source_pod, target_pod, port) and \
                        direction_allows(policies, "Ingress", target_pod, source_pod, port):
                    allowed.add((source, target, port))
    return allowed, pods


def compose_reachable(compose):
    """(source, target) pairs of compose services that share a network; `outside`
    reaches the services that publish a port."""
    services = compose["services"]
    networks = {name: set(service.get("networks", [])) for name, service in services.items()}
    pairs = {(a, b) for a in services for b in services
             if a != b and networks[a] & networks[b]}
    pairs |= {("outside", name) for name, service in services.items() if service.get("ports")}
    return pairs


def problems(docs, compose):
    allowed, pods = allowed_connections(docs)
    found = []
    for connection in sorted(NEEDED - allowed):
        found.append("Kubernetes denies %s -> %s:%d, which Tally needs" % connection)
    for connection in sorted(FORBIDDEN & allowed):
        found.append("Kubernetes allows %s -> %s:%d, which must never be" % connection)
    for connection in sorted(allowed - NEEDED):
        source, target, port = connection
        if (target, port) in PUBLIC:
            continue
        # Pods outside Tally's namespace have no policies here: their own egress is
        # theirs to restrict; what matters is what Tally's pods send and take.
        if pods[source][0] == NAMESPACE or pods[target][0] == NAMESPACE:
            found.append("Kubernetes allows %s -> %s:%d, which Tally does not need"
                         % connection)
    reachable = compose_reachable(compose)
    for source, target, port in sorted(NEEDED):
        pair = (COMPOSE_NAMES.get(source, source), COMPOSE_NAMES.get(target, target))
        if None not in pair and pair not in reachable:
            found.append(f"compose.yaml gives {source} no network to {target} ({port})")
    return found, allowed


def policy(docs, name):
    return next(doc for doc in docs if doc["kind"] == "NetworkPolicy"
                and doc["metadata"]["name"] == name)


# Ways of breaking the policies that the evaluation must notice.
BREAKAGES = {
    "vote sends anywhere": lambda d: policy(d, "vote")["spec"].update(egress=[{}]),
    "no worker policy": lambda d: d.remove(policy(d, "worker")),
    "Redis takes anyone": lambda d: policy(d, "redis")["spec"].update(ingress=[{}]),
    "no default deny, edge unrestricted": lambda d: (
        d.remove(policy(d, "default-deny")), d.remove(policy(d, "edge"))),
}


def main():
    rendered, compose_path = sys.argv[1], sys.argv[2]
    docs = [doc for doc in yaml.safe_load_all(open(rendered)) if doc]
    compose = yaml.safe_load(open(compose_path))
    found, allowed = problems(docs, compose)
    for problem in found:
        print(f"  {problem}")
    print(f"  network policies: {len(allowed & NEEDED)} of {len(NEEDED)} needed connections"
          f" allowed, {len(allowed & FORBIDDEN)} of the {len(FORBIDDEN)} forbidden ones;"
          f" {len(found)} problems")
    missed = []
    for name, breakage in BREAKAGES.items():
        broken = copy.deepcopy(docs)
        breakage(broken)
        if not problems(broken, compose)[0]:
            missed.append(name)
            print(f"  network policies: the evaluation missed {name}")
    print(f"  network policies: self-test, {len(BREAKAGES) - len(missed)} of {len(BREAKAGES)}"
          " breakages caught")
    sys.exit(1 if found or missed else 0)


if __name__ == "__main__":
    main()
