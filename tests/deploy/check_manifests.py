#!/usr/bin/env python3
"""Structural checks of the deployment files: deploy/kubernetes/*.yaml and compose/*.yml.

  python3 tests/deploy/check_manifests.py [REPO_ROOT]

Checks the real files (expects no findings), then broken copies of them (a subPath added, the
native sidecar's restartPolicy removed, liveness pointed at /readyz, ...) and expects each break to
be reported, so the checks are known to be able to fail. Exit 0 when all holds, 1 otherwise.
"""
import copy
import pathlib
import sys

import yaml

STOP_TIMEOUT = 10  # agent.stop_timeout per child: the host, then nats-server


def walk(node, path=""):
    """Yields (path, key, value) for every mapping entry in a YAML tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


def pod_spec(doc):
    if doc.get("kind") == "Pod":
        return doc["spec"]
    return doc.get("spec", {}).get("template", {}).get("spec")


def is_agent(c):
    return c.get("image", "").split("/")[-1].startswith("leaf-agent")


def probe_cmd(c, probe):
    return (c.get(probe) or {}).get("exec", {}).get("command")


def check_pod(name, spec):
    errs = []
    e = errs.append
    inits, mains = spec.get("initContainers", []), spec.get("containers", [])
    if any(k == "subPath" or k == "subPathExpr" for _, k, _ in walk(spec)):
        e(f"{name}: subPath in a volume mount (a Secret mounted with subPath never sees rotation)")
    psc = spec.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        e(f"{name}: pod securityContext.runAsNonRoot is not true")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        e(f"{name}: pod seccompProfile is not RuntimeDefault")
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace < 2 * STOP_TIMEOUT + 5:
        e(f"{name}: terminationGracePeriodSeconds {grace} < host + leaf stop timeouts ({2 * STOP_TIMEOUT} s) + margin")
    for c in inits + mains:
        cn = f"{name}/{c.get('name')}"
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            e(f"{cn}: readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            e(f"{cn}: allowPrivilegeEscalation is not false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            e(f"{cn}: capabilities.drop is not [ALL]")
        if not c.get("resources", {}).get("requests"):
            e(f"{cn}: no resource requests")
        if "httpGet" in str(c.get("livenessProbe")) + str(c.get("readinessProbe")) + str(c.get("startupProbe")):
            e(f"{cn}: httpGet probe (the probe listeners are loopback only: use exec)")
        # Every running agent: readiness on /readyz, liveness on /livez, startup gated on ready.
        if is_agent(c) and c.get("args", [None])[0] == "run":
            if probe_cmd(c, "readinessProbe") != ["leaf-agent", "health"]:
                e(f"{cn}: readinessProbe is not `leaf-agent health` (/readyz)")
            if probe_cmd(c, "livenessProbe") != ["leaf-agent", "health", "--live"]:
                e(f"{cn}: livenessProbe is not `leaf-agent health --live` (/livez): a hub outage would restart the pod")
            if probe_cmd(c, "startupProbe") != ["leaf-agent", "health"]:
                e(f"{cn}: startupProbe is not `leaf-agent health`")
    secret_vols = {v["name"] for v in spec.get("volumes", []) if "secret" in v}
    if not secret_vols:
        e(f"{name}: no credentials Secret volume")
    for c in inits + mains:
        if is_agent(c) and not any(m["name"] in secret_vols for m in c.get("volumeMounts", [])):
            e(f"{name}/{c['name']}: the agent does not mount the credentials Secret")
    return errs, inits, mains


def check_sidecar(name, spec):
    errs, inits, mains = check_pod(name, spec)
    agents = [c for c in inits if is_agent(c)]
    if len(agents) != 1:
        return errs + [f"{name}: expected the agent as one init container, found {len(agents)}"]
    a = agents[0]
    if a.get("restartPolicy") != "Always":
        errs.append(f"{name}: the agent init container lacks restartPolicy: Always (not a native sidecar)")
    if not a.get("startupProbe"):
        errs.append(f"{name}: the native sidecar has no startupProbe: the host would start before the leaf is ready")
    if any(is_agent(c) for c in mains) or not mains:
        errs.append(f"{name}: the host must be a regular container and the agent must not")
    return errs


def check_entrypoint(name, spec):
    errs, inits, mains = check_pod(name, spec)
    if len(mains) != 1 or inits:
        return errs + [f"{name}: entrypoint mode is one container, no init containers"]
    args = mains[0].get("args", [])
    if args[:1] != ["run"] or "--" not in args or args.index("--") == len(args) - 1:
        errs.append(f"{name}: args {args} do not start the host: want run -- HOST")
    if not mains[0].get("startupProbe"):
        errs.append(f"{name}: no startupProbe")
    return errs


def check_init(name, spec):
    errs, inits, mains = check_pod(name, spec)
    agents = [c for c in inits if is_agent(c)]
    nats = [c for c in inits if c.get("image", "").startswith("nats:")]
    if len(agents) != 1 or (agents[0].get("args") or [""])[0] != "init" or agents[0].get("restartPolicy"):
        errs.append(f"{name}: expected one run-to-completion init container `leaf-agent init`")
    elif agents and nats:
        # The config is written for the nats image's release: init --nats-version X beside nats:X-alpine.
        args = agents[0].get("args", [])
        want = args[args.index("--nats-version") + 1] if "--nats-version" in args[:-1] else None
        tag = nats[0]["image"].split(":", 1)[1].split("-", 1)[0]
        if want != tag:
            errs.append(f"{name}: leaf-agent init writes for nats-server {want} but the nats image is {tag}: "
                        "give init --nats-version the image's release")
    if len(nats) != 1 or nats[0].get("restartPolicy") != "Always" or not nats[0].get("startupProbe"):
        errs.append(f"{name}: expected the official nats image as a native sidecar with a startupProbe")
    elif agents and inits.index(agents[0]) > inits.index(nats[0]):
        errs.append(f"{name}: leaf-agent init must run before nats-server")
    if agents and nats:
        state = {m["name"]: m["mountPath"] for m in agents[0].get("volumeMounts", [])}
        mounted = {m["name"]: m["mountPath"] for m in nats[0].get("volumeMounts", [])}
        for vol, path in state.items():
            if vol in mounted and mounted[vol] != path:
                errs.append(f"{name}: volume {vol} at {mounted[vol]} in nats but {path} in the agent: nats.conf names the agent's paths")
        if not any(a.startswith(state.get("state", "?")) for a in nats[0].get("args", [])):
            errs.append(f"{name}: nats does not run the config written to the state volume")
    return errs


KUBE = {"sidecar.yaml": check_sidecar, "entrypoint.yaml": check_entrypoint, "init-container.yaml": check_init}


def check_kube_file(fname, docs):
    errs = []
    pods = [(d.get("metadata", {}).get("name", "?"), pod_spec(d)) for d in docs if d and pod_spec(d)]
    if not pods:
        return [f"{fname}: no pod spec"]
    for name, spec in pods:
        errs += KUBE[fname](f"{fname}:{name}", spec)
    return errs


def check_compose(fname, doc):
    errs = []
    svcs = doc.get("services", {})
    leaf, host = svcs.get("leaf"), svcs.get("host")
    if not leaf or not host:
        return [f"{fname}: needs services leaf and host"]
    if leaf.get("healthcheck", {}).get("test") != ["CMD", "leaf-agent", "health"]:
        errs.append(f"{fname}: leaf healthcheck is not leaf-agent health")
    if host.get("network_mode") != "service:leaf":
        errs.append(f"{fname}: host does not share the leaf's network namespace")
    dep = host.get("depends_on")
    if not isinstance(dep, dict) or dep.get("leaf", {}).get("condition") != "service_healthy":
        errs.append(f"{fname}: host is not gated on depends_on leaf: service_healthy")
    for n, s in svcs.items():
        hc = s.get("healthcheck")
        if hc is None:  # would inherit the image's HEALTHCHECK (leaf-agent health), which fits only the agent
            if "leaf-agent" in str(s.get("image", "")) and n != "leaf":
                errs.append(f"{fname}: service {n} inherits the agent's HEALTHCHECK: give it its own or disable it")
    return errs


def run_checks(kube, compose):
    errs = []
    for fname, docs in kube.items():
        errs += check_kube_file(fname, docs)
    for fname, doc in compose.items():
        errs += check_compose(fname, doc)
    return errs


def containers(docs, kind):
    return [c for d in docs if d and pod_spec(d) for c in pod_spec(d).get(kind, [])]


def mutations(kube, compose):
    """(description, mutate(kube, compose), expected finding substring)"""
    def add_subpath(k, c):
        containers(k["sidecar.yaml"], "initContainers")[0]["volumeMounts"][0]["subPath"] = "leaf.creds"

    def drop_restart(k, c):
        del containers(k["sidecar.yaml"], "initContainers")[0]["restartPolicy"]

    def drop_startup(k, c):
        del containers(k["sidecar.yaml"], "initContainers")[0]["startupProbe"]

    def live_on_readyz(k, c):
        containers(k["entrypoint.yaml"], "containers")[0]["livenessProbe"]["exec"]["command"] = ["leaf-agent", "health"]

    def short_grace(k, c):
        pod_spec(k["init-container.yaml"][0])["terminationGracePeriodSeconds"] = 10

    def writable_root(k, c):
        containers(k["init-container.yaml"], "containers")[0]["securityContext"] = {}

    def root_pod(k, c):
        del pod_spec(k["sidecar.yaml"][0])["securityContext"]["runAsNonRoot"]

    def ungated_host(k, c):
        c["docker-compose.yml"]["services"]["host"]["depends_on"] = ["leaf"]

    def inherited_health(k, c):
        del c["docker-compose.yml"]["services"]["hub"]["healthcheck"]

    def init_nats_elsewhere(k, c):
        containers(k["init-container.yaml"], "initContainers")[1]["volumeMounts"][1]["mountPath"] = "/state"

    def nats_image_bumped(k, c):
        containers(k["init-container.yaml"], "initContainers")[1]["image"] = "nats:2.15.1-alpine"

    return [
        ("subPath on the credentials mount", add_subpath, "subPath"),
        ("nats image of another release than init writes for", nats_image_bumped, "--nats-version"),
        ("native sidecar without restartPolicy", drop_restart, "restartPolicy: Always"),
        ("native sidecar without startupProbe", drop_startup, "no startupProbe"),
        ("liveness on /readyz", live_on_readyz, "livenessProbe is not"),
        ("grace shorter than the stop timeouts", short_grace, "terminationGracePeriodSeconds"),
        ("writable root filesystem", writable_root, "readOnlyRootFilesystem"),
        ("pod may run as root", root_pod, "runAsNonRoot"),
        ("compose host not gated on a healthy leaf", ungated_host, "service_healthy"),
        ("compose hub inherits the agent HEALTHCHECK", inherited_health, "inherits"),
        ("nats sidecar mounts the state elsewhere", init_nats_elsewhere, "nats.conf names"),
    ]


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[2])
    kube = {f: list(yaml.safe_load_all((root / "deploy/kubernetes" / f).read_text())) for f in KUBE}
    compose = {f: yaml.safe_load((root / "compose" / f).read_text())
               for f in ("docker-compose.yml", "docker-compose.dev.yml")}
    failed = False
    for e in run_checks(kube, compose):
        print("FAIL", e)
        failed = True
    if not failed:
        print("ok: the manifests and compose files hold")
    for desc, mutate, expect in mutations(kube, compose):
        k, c = copy.deepcopy(kube), copy.deepcopy(compose)
        mutate(k, c)
        found = [e for e in run_checks(k, c) if expect in e]
        if found:
            print(f"ok: broken copy reported ({desc}): {found[0]}")
        else:
            print(f"FAIL: broken copy not reported ({desc}), expected a finding with {expect!r}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
