#!/usr/bin/env python3
"""P6 (see bench/scale.sh). Prints `ROW` lines for bench/run.sh and progress on stderr.

Times come from what the processes themselves record, not from when this observer notices: a bare
leaf is up when a hub logs that it accepted it (hubs run with -D; hublog.py), an agent when it
wrote its ready file (its mtime). The observer only looks every 50 ms, cheaply (log files read,
files stat'ed), to know when to stop waiting. (Until this round the bare phase polled all three
hubs' /leafz every 10 ms from the start, while the agent phase only stat'ed ready files until all
existed: the two phases were observed differently.)
"""
import argparse, http.client, json, os, random, re, shutil, signal, statistics, subprocess, sys, tempfile, time

import hublog

now = time.monotonic


def sh(*argv, check=True):
    return subprocess.run(argv, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def get_json(host, port, path):
    try:
        c = http.client.HTTPConnection(host, port, timeout=2)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return json.loads(body) if r.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None


class HubLogs:
    """The hubs' logs as they grow: (wall-clock time, leaf IP) of each leaf a hub accepted."""

    def __init__(self, paths):
        self.files = [open(p, "a+b") for p in paths]
        for f in self.files:
            f.seek(0, os.SEEK_END)
        self.bufs = [b""] * len(paths)
        self.accepted = []

    def scan(self):
        for k, f in enumerate(self.files):
            found, self.bufs[k] = hublog.acceptances(self.bufs[k] + f.read())
            self.accepted += found

    def first_after(self, t_wall, ips):
        """For each IP in ips, the first acceptance at or after t_wall; None while one is missing."""
        self.scan()
        first = {}
        for t, ip in self.accepted:
            if t >= t_wall and ip in ips and ip not in first:
                first[ip] = t
        return first if len(first) == len(ips) else None


def wait(pred, timeout, what, step=0.005):
    end = now() + timeout
    while now() < end:
        if pred():
            return
        time.sleep(step)
    raise SystemExit(f"scale: timed out waiting for {what}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    agent = os.path.abspath(a.agent)
    tag = f"{random.randint(0, 0xffff):04x}"
    bridge, net = f"lbbr{tag}", f"10.{random.randint(200, 250)}"
    hub_ip = f"{net}.0.1"
    tmp = tempfile.mkdtemp(prefix="leaf-scale-")
    nss, procs = [], []
    hubs = {}
    try:
        # ---- network: a bridge in the root namespace, one namespace per leaf ----
        sh("ip", "link", "add", bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{hub_ip}/16", "dev", bridge)
        sh("ip", "link", "set", bridge, "up")
        for i in range(a.n):
            ns = f"lb{tag}-{i}"
            ip = f"{net}.{1 + (i + 2) // 250}.{(i + 2) % 250 + 1}"
            sh("ip", "netns", "add", ns)
            nss.append((ns, ip))
            sh("ip", "link", "add", f"lv{tag}{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "link", "set", f"lv{tag}{i}", "master", bridge, "up")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/16", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # ---- hub: 3 nodes from one dev hub (operator mode, TLS leaf port), routes between them ----
        base = 21000 + random.randint(0, 900) * 10
        ports = [dict(client=base + k * 4, leaf=base + k * 4 + 1, http=base + k * 4 + 2, route=base + k * 4 + 3) for k in range(3)]
        subprocess.run([agent, "dev-hub", "--dir", f"{tmp}/hub", "--host", hub_ip, "--port", str(ports[0]["client"]),
                        "--leaf-port", str(ports[0]["leaf"]), "--http-port", str(ports[0]["http"])],
                       check=True, stdout=subprocess.DEVNULL)
        conf0 = open(f"{tmp}/hub/hub.conf").read()
        conf0 = re.sub(r"jetstream \{.*?\n\}\n", "", conf0, flags=re.S)  # no JetStream: not what is measured
        routes = ", ".join(f'"nats://{hub_ip}:{p["route"]}"' for p in ports)
        for k, p in enumerate(ports):
            c = conf0.replace(f":{ports[0]['client']}\"", f":{p['client']}\"").replace(f":{ports[0]['leaf']}\"", f":{p['leaf']}\"")
            c = c.replace(f":{ports[0]['http']}\"", f":{p['http']}\"").replace('"leaf-agent-dev-hub"', f'"hub-{k}"')
            c += f'\ncluster {{\n  name: "hub"\n  listen: "{hub_ip}:{p["route"]}"\n  routes: [{routes}]\n}}\n'
            open(f"{tmp}/hub-{k}.conf", "w").write(c)

        def start_hub(k):
            hubs[k] = subprocess.Popen(["nats-server", "-c", f"{tmp}/hub-{k}.conf", "-D"], stdout=subprocess.DEVNULL,
                                       stderr=open(f"{tmp}/hub-{k}.log", "a"))
            wait(lambda: get_json(hub_ip, ports[k]["http"], "/healthz") is not None, 20, f"hub node {k}")

        for k in range(3):
            open(f"{tmp}/hub-{k}.log", "w").close()
            start_hub(k)
        hub_logs = HubLogs([f"{tmp}/hub-{k}.log" for k in range(3)])

        def leafs_by_node():
            out = {}
            for k, p in enumerate(ports):
                if hubs[k].poll() is None:
                    j = get_json(hub_ip, p["http"], "/leafz")
                    out[k] = [l["ip"] for l in (j.get("leafs") or [])] if j else []
            return out

        def total():
            return sum(len(v) for v in leafs_by_node().values())

        # ---- per-leaf config: the agent's, with all three hub URLs; a bare copy of what it renders ----
        toml = open(f"{tmp}/hub/agent.toml").read()
        urls = ", ".join(f'"tls://{hub_ip}:{p["leaf"]}"' for p in ports)
        toml = re.sub(r"urls = \[.*?\]", f"urls = [{urls}]", toml)
        for i, (ns, ip) in enumerate(nss):
            d = f"{tmp}/leaf-{i}"
            os.makedirs(d)
            open(f"{d}/agent.toml", "w").write(toml)
            flags = ["-c", f"{d}/agent.toml", "--state-dir", f"{d}/state", "--listen", "127.0.0.1:4222",
                     "--monitor", "127.0.0.1:8222", "--health-listen", "127.0.0.1:9222", "--log-level", "warn"]
            open(f"{d}/flags", "w").write("\n".join(flags))
            # Each pod has its own host name, so each leaf its own server_name.
            sh("ip", "netns", "exec", ns, "unshare", "--uts", "sh", "-c", f'hostname pod-{i} && exec "$0" init "$@"', agent, *flags)
            shutil.copy(f"{d}/state/nats.conf", f"{d}/bare.conf")

        def launch(i, kind):
            ns, _ = nss[i]
            d = f"{tmp}/leaf-{i}"
            if kind == "bare":
                argv = ["nats-server", "-c", f"{d}/bare.conf"]
            else:
                argv = [agent, "run", *open(f"{d}/flags").read().split("\n")]
            return subprocess.Popen(["ip", "netns", "exec", ns, "unshare", "--uts", "sh", "-c",
                                     f'hostname pod-{i} && exec "$@"', "sh", *argv],
                                    stdout=subprocess.DEVNULL, stderr=open(f"{d}/{kind}.log", "a"))

        def ready_files():
            return [os.path.exists(f"{tmp}/leaf-{i}/state/ready") for i in range(a.n)]

        def last_ready(idx, t_wall):
            """The latest ready-file write among idx, all written at or after t_wall; else None."""
            last = 0.0
            for i in idx:
                try:
                    t = os.stat(f"{tmp}/leaf-{i}/state/ready").st_mtime_ns / 1e9
                except FileNotFoundError:
                    return None
                # The file time is the kernel's coarse clock (one tick behind at most).
                if t < t_wall - 0.02:
                    return None
                last = max(last, t)
            return last

        def settled(kind, idx, t_wall):
            """When the leaves idx were all up after t_wall, by their own records; else None."""
            if kind == "bare":
                first = hub_logs.first_after(t_wall, {nss[i][1] for i in idx})
                return max(first.values()) if first else None
            return last_ready(idx, t_wall)

        def wait_settled(kind, idx, t_wall, what):
            end = now() + 120
            while now() < end:
                t = settled(kind, idx, t_wall)
                if t is not None:
                    return t
                time.sleep(0.05)
            raise SystemExit(f"scale: timed out waiting for {what}")

        def phase(kind):
            everyone = range(a.n)
            t0 = time.time()
            leaves = [launch(i, kind) for i in range(a.n)]
            procs.extend(leaves)
            t_up = (wait_settled(kind, everyone, t0, f"{a.n} {kind} leaves up") - t0) * 1000
            wait(lambda: total() == a.n, 60, f"the hubs to list {a.n} leaves", 0.05)
            # Kill the hub node holding the most leaves.
            by = leafs_by_node()
            k = max(by, key=lambda x: len(by[x]))
            hit = set(by[k])
            idx = [i for i, (_, ip) in enumerate(nss) if ip in hit]
            time.sleep(0.05)  # past the coarse file clock's tick: a rewrite is told from the last write
            t0 = time.time()
            hubs[k].kill(); hubs[k].wait()
            t_back = (wait_settled(kind, idx, t0, f"{kind} leaves back") - t0) * 1000
            wait(lambda: total() == a.n and (kind == "bare" or all(ready_files())), 60, "all leaves listed again", 0.05)
            print(f"scale {kind}: {a.n} up in {t_up:.0f} ms; hub node {k} (with {len(idx)} leaves) killed, all back in {t_back:.0f} ms",
                  file=sys.stderr)
            for p in leaves:
                p.send_signal(signal.SIGTERM)
            for p in leaves:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill(); p.wait()
            start_hub(k)
            wait(lambda: total() == 0, 60, "leaves gone")
            return t_up, t_back

        res = {"bare": [], "agent": []}
        for r in range(a.rounds):
            for kind in (("bare", "agent") if r % 2 == 0 else ("agent", "bare")):
                res[kind].append(phase(kind))
        med = lambda kind, j: statistics.median(x[j] for x in res[kind])
        print(f"ROW P6_{a.n}_pods_all_ready_ms {med('bare', 0):.0f} {med('agent', 0):.0f} <=1.10x")
        print(f"ROW P6_{a.n}_pods_hub_node_kill_ms {med('bare', 1):.0f} {med('agent', 1):.0f} <=1.10x")
        print(f"NOTE P6: {a.n} pods (network namespaces), 3-node hub cluster, medians of {a.rounds} rounds")
    finally:
        for p in procs + list(hubs.values()):
            if p.poll() is None:
                p.kill(); p.wait()
        for ns, _ in nss:
            sh("ip", "netns", "pids", ns, check=False)
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", bridge, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
