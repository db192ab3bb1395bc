"""Checks rendered Kubernetes manifests (scripts/k8s-test renders them): every object
against the Kubernetes OpenAPI schemas of each version given, unknown fields refused
(kubernetes-validate's strict schemas); every workload against the project's rules
(non-root, read-only root, no privilege escalation, no capability, resources, probes, a
pinned image, a drain longer than the service's); secrets only in the dev overlay; the
namespace restricted; a disruption budget for every Deployment. Before trusting a
pass, it breaks a copy of the manifests in each way a rule forbids and requires the
rule to notice (a check that cannot fail checks nothing).

  k8s_check.py --versions "1.33.0 1.37.0" --dev DEV.yaml RENDERED.yaml...
"""

import argparse
import copy
import os
import sys

import kubernetes_validate
import yaml

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}

# The services drain for SHUTDOWN_GRACE (10 s) after a preStop pause (5 s): a pod must
# be given longer than both before it is killed.
DRAIN_SECONDS = 15


def load(path):
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def name_of(doc):
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def schema_errors(docs, versions):
    errors = []
    for doc in docs:
        for version in versions:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                errors.append(f"{name_of(doc)}: no schema for {doc.get('apiVersion')} in {version}")
            except kubernetes_validate.ValidationError as error:
                errors.append(f"{name_of(doc)} ({version}): {error.message} at "
                              f"{'.'.join(str(p) for p in error.path)}")
    return errors


def containers_of(pod):
    return pod.get("initContainers", []) + pod.get("containers", [])


def workload_errors(doc):
    errors = []
    pod = doc["spec"]["template"]["spec"]
    where = name_of(doc)
    if pod.get("automountServiceAccountToken") is not False:
        errors.append(f"{where}: mounts a service account token")
    security = pod.get("securityContext", {})
    if security.get("runAsNonRoot") is not True:
        errors.append(f"{where}: not runAsNonRoot")
    if security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        errors.append(f"{where}: no RuntimeDefault seccomp profile")
    if pod.get("terminationGracePeriodSeconds", 30) <= DRAIN_SECONDS:
        errors.append(f"{where}: killed before its {DRAIN_SECONDS} s drain ends")
    for container in containers_of(pod):
        at = f"{where} container {container['name']}"
        context = container.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{at}: may escalate privileges")
        if context.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{at}: writable root file system")
        if "ALL" not in context.get("capabilities", {}).get("drop", []):
            errors.append(f"{at}: does not drop ALL capabilities")
        if context.get("privileged"):
            errors.append(f"{at}: privileged")
        resources = container.get("resources", {})
        for kind, name in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
            if name not in resources.get(kind, {}):
                errors.append(f"{at}: no {kind}.{name}")
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in container:
                errors.append(f"{at}: no {probe}")
        image = container.get("image", "")
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if "@sha256:" not in image and tag in ("", "latest"):
            errors.append(f"{at}: image {image!r} is not pinned to a version")
    return errors


def selects(selector, labels):
    wanted = selector.get("matchLabels", {})
    return all(labels.get(key) == value for key, value in wanted.items())


def rule_errors(docs, dev):
    errors = []
    budgets = [doc for doc in docs if doc["kind"] == "PodDisruptionBudget"]
    for doc in docs:
        kind = doc["kind"]
        if kind in WORKLOADS:
            errors += workload_errors(doc)
            labels = doc["spec"]["template"]["metadata"].get("labels", {})
            if kind == "Deployment" and not any(
                    selects(b["spec"]["selector"], labels) for b in budgets):
                errors.append(f"{name_of(doc)}: no PodDisruptionBudget")
        elif kind == "Secret" and not dev and (doc.get("data") or doc.get("stringData")):
            errors.append(f"{name_of(doc)}: a Secret with values outside the dev overlay")
        elif kind == "Namespace":
            labels = doc["metadata"].get("labels", {})
            if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
                errors.append(f"{name_of(doc)}: Pod Security Standard restricted not enforced")
    if not any(doc["kind"] == "NetworkPolicy" and doc["spec"].get("podSelector") == {}
               and set(doc["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
               and not doc["spec"].get("ingress") and not doc["spec"].get("egress")
               for doc in docs):
        errors.append("no default-deny NetworkPolicy for ingress and egress")
    return errors


def check(docs, versions, dev):
    return schema_errors(docs, versions) + rule_errors(docs, dev)


def first(docs, kind):
    return next(doc for doc in docs if doc["kind"] == kind)


def container(docs):
    return first(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


# Each way of breaking the manifests that a rule above must notice.
BREAKAGES = {
    "an unknown field": lambda d: container(d).update(imagePullPolcy="Always"),
    "a wrong type": lambda d: first(d, "Deployment")["spec"].update(replicas="three"),
    "root": lambda d: first(d, "Deployment")["spec"]["template"]["spec"]["securityContext"]
    .update(runAsNonRoot=False),
    "a writable root": lambda d: container(d)["securityContext"]
    .update(readOnlyRootFilesystem=False),
    "privilege escalation": lambda d: container(d)["securityContext"].pop(
        "allowPrivilegeEscalation"),
    "a capability kept": lambda d: container(d)["securityContext"]["capabilities"]
    .update(drop=["NET_RAW"]),
    "no readiness probe": lambda d: container(d).pop("readinessProbe"),
    "no memory limit": lambda d: container(d)["resources"].pop("limits"),
    "a latest tag": lambda d: container(d).update(image="tally-edge:latest"),
    "an untagged image": lambda d: container(d).update(image="registry.example.com/tally/edge"),
    "a short grace period": lambda d: first(d, "Deployment")["spec"]["template"]["spec"]
    .update(terminationGracePeriodSeconds=10),
    "a token mounted": lambda d: first(d, "Deployment")["spec"]["template"]["spec"]
    .update(automountServiceAccountToken=True),
    "a secret with a value": lambda d: d.append(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "leak"},
         "stringData": {"password": "hunter2"}}),
    "no disruption budget": lambda d: d.remove(first(d, "PodDisruptionBudget")),
    "no default deny": lambda d: d.remove(
        next(doc for doc in d if doc["kind"] == "NetworkPolicy"
             and doc["spec"].get("podSelector") == {} and not doc["spec"].get("egress"))),
    "an unrestricted namespace": lambda d: first(d, "Namespace")["metadata"]["labels"]
    .update({"pod-security.kubernetes.io/enforce": "baseline"}),
    "an unknown kind": lambda d: d.append(
        {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}),
}


def self_test(docs, versions):
    """The names of the breakages the checks did not notice."""
    missed = []
    for name, breakage in BREAKAGES.items():
        broken = copy.deepcopy(docs)
        breakage(broken)
        if not check(broken, versions[:1], dev=False):
            missed.append(name)
    return missed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", required=True, help="space-separated, e.g. '1.33.0 1.37.0'")
    parser.add_argument("--dev", help="the rendering that may hold Secrets with values")
    parser.add_argument("rendered", nargs="+")
    args = parser.parse_args()
    versions = args.versions.split()
    failed = False
    for path in args.rendered:
        docs = load(path)
        shown = os.path.basename(path)
        errors = check(docs, versions, dev=path == args.dev)
        for error in errors:
            print(f"  {shown}: {error}")
        failed |= bool(errors)
        print(f"  {shown}: {len(docs)} objects, {len(errors)} problems, Kubernetes {args.versions}")
        if path != args.dev:
            missed = self_test(docs, versions)
            for name in missed:
                print(f"  {shown}: the checks missed {name}")
            failed |= bool(missed)
            print(f"  {shown}: self-test, {len(BREAKAGES) - len(missed)} of {len(BREAKAGES)}"
                  " breakages caught")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
