#!/usr/bin/env python3
"""Structural checks of the deployment files: deploy/kubernetes/*.yaml and compose/*.yml.

wasmCloud 2.x hosts (`wash host`, deploy/kubernetes/wasmcloud2.yaml, compose/docker-compose.wasmcloud2.yml)
take their NATS settings as flags (wasmCloud crates/wash/src/cli/host.rs): with the agent's
local.auth = "tls" both planes must use tls://127.0.0.1:PORT and the CA, certificate and key the
agent writes into its state_dir, mounted read-only into the host at the agent's path; with
anonymous loopback, no TLS flags at all; TLS-first never (the leaf's port upgrades after INFO).

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


TLS_FILES = {"tls-ca": "local-ca.pem", "tls-cert": "host-cert.pem", "tls-key": "host-key.pem"}


def flag_values(args):
    """`wash host` flags as {name: value} (--flag=value or --flag value)."""
    out, i = {}, 0
    while i < len(args):
        a = str(args[i])
        if a.startswith("--"):
            if "=" in a:
                k, v = a[2:].split("=", 1)
            elif i + 1 < len(args) and not str(args[i + 1]).startswith("--"):
                k, v = a[2:], str(args[i + 1])
                i += 1
            else:
                k, v = a[2:], True
            out[k] = v
        i += 1
    return out


def check_wash_host(name, args, local_auth, state_dir, listen_port, state_mounted_ro):
    """The 2.x host's NATS flags against the agent's local.auth. `state_dir`: where the host sees
    the agent's state_dir (None: not mounted)."""
    errs = []
    if (args or [None])[0] != "host":
        return [f"{name}: a wasmCloud 2.x host runs `wash host`: args {args}"]
    f = flag_values(args[1:])
    for plane in ("scheduler", "data"):
        url = f.get(f"{plane}-nats-url", "nats://localhost:4222")
        if f.get(f"{plane}-nats-tls-first"):
            errs.append(f"{name}: --{plane}-nats-tls-first: the leaf's port upgrades to TLS after INFO, not TLS-first")
        host_port = url.split("://", 1)[-1]
        if host_port.split(":")[0] not in ("127.0.0.1", "localhost", "[::1]") or not host_port.endswith(f":{listen_port}"):
            errs.append(f"{name}: --{plane}-nats-url {url} is not the leaf on loopback port {listen_port}")
        if local_auth == "tls":
            if not url.startswith("tls://"):
                errs.append(f"{name}: --{plane}-nats-url {url}: local.auth = tls needs tls://")
            for flag, fname in TLS_FILES.items():
                want = f"{state_dir}/{fname}" if state_dir else None
                if f.get(f"{plane}-nats-{flag}") != want:
                    errs.append(f"{name}: --{plane}-nats-{flag} is {f.get(f'{plane}-nats-{flag}')}, want the agent's {want or fname} "
                                "(the agent's state_dir mounted into the host)")
        else:
            if url.startswith("tls://") or any(f.get(f"{plane}-nats-{flag}") for flag in TLS_FILES):
                errs.append(f"{name}: --{plane}-nats-* TLS flags but the agent's local.auth is {local_auth}: the port is plain text")
    if local_auth == "tls" and state_dir and not state_mounted_ro:
        errs.append(f"{name}: the host must mount the agent's state volume read-only")
    return errs


def env_of(c):
    return {e["name"]: e.get("value") for e in c.get("env", []) if "name" in e}


def check_wasmcloud2(name, spec):
    errs = check_sidecar(name, spec)
    agent = next(c for c in spec.get("initContainers", []) if is_agent(c))
    env = env_of(agent)
    auth = env.get("LEAF_AGENT_LOCAL_AUTH", "none")
    port = (env.get("LEAF_AGENT_LOCAL_LISTEN") or "127.0.0.1:4222").rsplit(":", 1)[1]
    state = env.get("LEAF_AGENT_AGENT_STATE_DIR", "/run/leaf-agent")
    agent_mounts = {m["name"]: m["mountPath"] for m in agent.get("volumeMounts", [])}
    for host in spec.get("containers", []):
        if "wasmcloud/wash" not in host.get("image", ""):
            errs.append(f"{name}/{host.get('name')}: not a wasmCloud 2.x host image (ghcr.io/wasmcloud/wash)")
            continue
        mounts = {m["name"]: m for m in host.get("volumeMounts", [])}
        seen, ro = None, False
        for vol, path in agent_mounts.items():
            if vol in mounts and state.startswith(path) and mounts[vol]["mountPath"] == path:
                seen, ro = state, mounts[vol].get("readOnly") is True
        errs += check_wash_host(f"{name}/{host.get('name')}", host.get("args", []), auth, seen, port, ro)
    return errs


KUBE = {"sidecar.yaml": check_sidecar, "entrypoint.yaml": check_entrypoint, "init-container.yaml": check_init,
        "wasmcloud2.yaml": check_wasmcloud2}


def check_kube_file(fname, docs):
    errs = []
    pods = [(d.get("metadata", {}).get("name", "?"), pod_spec(d)) for d in docs if d and pod_spec(d)]
    if not pods:
        return [f"{fname}: no pod spec"]
    for name, spec in pods:
        errs += KUBE[fname](f"{fname}:{name}", spec)
    return errs


def check_compose(fname, doc):
    """Every host service in a leaf's network namespace, gated on the leaf's health; a stack's
    leaves are the services the hosts name (docker-compose.yml: leaf and host)."""
    errs = []
    svcs = doc.get("services", {})
    pairs = [(n, s["network_mode"].split(":", 1)[1]) for n, s in svcs.items()
             if str(s.get("network_mode", "")).startswith("service:")]
    if not pairs:
        return [f"{fname}: no host service in a leaf's network namespace (network_mode: service:<leaf>)"]
    if "host" in svcs and svcs["host"].get("network_mode") != "service:leaf":
        errs.append(f"{fname}: host does not share the leaf's network namespace")
    leaves = {leaf for _, leaf in pairs}
    for host_name, leaf_name in pairs:
        host, leaf = svcs[host_name], svcs.get(leaf_name)
        if not leaf:
            errs.append(f"{fname}: {host_name} names a network namespace service:{leaf_name} that does not exist")
            continue
        if leaf.get("healthcheck", {}).get("test") != ["CMD", "leaf-agent", "health"]:
            errs.append(f"{fname}: {leaf_name} healthcheck is not leaf-agent health")
        dep = host.get("depends_on")
        if not isinstance(dep, dict) or dep.get(leaf_name, {}).get("condition") != "service_healthy":
            errs.append(f"{fname}: {host_name} is not gated on depends_on {leaf_name}: service_healthy")
        # A 2.x host (wash host, or its stand-in): its flags against the leaf's local.auth.
        cmd = host.get("command") or []
        if host.get("entrypoint") in (["wash-standin"], ["wash"]) or "wasmcloud/wash" in str(host.get("image", "")):
            env = leaf.get("environment") or {}
            auth = env.get("LEAF_AGENT_LOCAL_AUTH", "none")
            port = str(env.get("LEAF_AGENT_LOCAL_LISTEN") or "127.0.0.1:4222").rsplit(":", 1)[1]
            state = env.get("LEAF_AGENT_AGENT_STATE_DIR", "/run/leaf-agent")
            leaf_vols = {v.split(":")[0]: v.split(":")[1] for v in leaf.get("volumes", []) if ":" in v}
            host_vols = {v.split(":")[0]: v.split(":") for v in host.get("volumes", []) if ":" in v}
            seen, ro = None, False
            for vol, path in leaf_vols.items():
                if vol in host_vols and host_vols[vol][1] == path and state.startswith(path):
                    seen, ro = state, host_vols[vol][2:] == ["ro"]
            errs += check_wash_host(f"{fname}: {host_name}", [str(a) for a in cmd], auth, seen, port, ro)
    for n, s in svcs.items():
        hc = s.get("healthcheck")
        if hc is None:  # would inherit the image's HEALTHCHECK (leaf-agent health), which fits only the agent
            if "leaf-agent" in str(s.get("image", "")) and n not in leaves:
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

    def wash_plain_url(k, c):
        args = containers(k["wasmcloud2.yaml"], "containers")[0]["args"]
        args[args.index("--data-nats-url=tls://127.0.0.1:4222")] = "--data-nats-url=nats://127.0.0.1:4222"

    def wash_wrong_cert(k, c):
        args = containers(k["wasmcloud2.yaml"], "containers")[0]["args"]
        i = next(i for i, a in enumerate(args) if a.startswith("--scheduler-nats-tls-cert="))
        args[i] = "--scheduler-nats-tls-cert=/run/leaf-agent/host-cert.pem"

    def wash_tls_first(k, c):
        containers(k["wasmcloud2.yaml"], "containers")[0]["args"].append("--scheduler-nats-tls-first")

    def wash_state_writable(k, c):
        for m in containers(k["wasmcloud2.yaml"], "containers")[0]["volumeMounts"]:
            m.pop("readOnly", None)

    def wash_tls_on_anonymous(k, c):
        containers(k["wasmcloud2.yaml"], "containers")[1]["args"].append("--data-nats-tls-ca=/x/ca.pem")

    def compose_wash_plain(k, c):
        cmd = c["docker-compose.wasmcloud2.yml"]["services"]["host-tls"]["command"]
        cmd[cmd.index("--scheduler-nats-url=tls://127.0.0.1:4222")] = "--scheduler-nats-url=nats://127.0.0.1:4222"

    def compose_wash_ungated(k, c):
        c["docker-compose.wasmcloud2.yml"]["services"]["host-anon"]["depends_on"] = ["leaf-anon"]

    def compose_wash_no_state(k, c):
        del c["docker-compose.wasmcloud2.yml"]["services"]["host-tls"]["volumes"]

    return [
        ("2.x host on a plain URL with local.auth = tls", wash_plain_url, "needs tls://"),
        ("2.x host with a certificate path outside the agent's state_dir", wash_wrong_cert, "want the agent's"),
        ("2.x host in TLS-first mode", wash_tls_first, "tls-first"),
        ("2.x host mounts the agent's state writable", wash_state_writable, "read-only"),
        ("2.x host with TLS flags on an anonymous leaf", wash_tls_on_anonymous, "the port is plain text"),
        ("compose 2.x host on a plain URL with local.auth = tls", compose_wash_plain, "needs tls://"),
        ("compose 2.x host not gated on its leaf", compose_wash_ungated, "host-anon is not gated"),
        ("compose 2.x host without the agent's state volume", compose_wash_no_state, "want the agent's"),
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
               for f in ("docker-compose.yml", "docker-compose.dev.yml", "docker-compose.wasmcloud2.yml")}
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
