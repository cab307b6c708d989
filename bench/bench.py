#!/usr/bin/env python3
"""The leaf-agent benchmark suite (P1-P5, P7 of issue #10; P6 is bench/scale.sh).

One dev hub (operator mode, TLS) on free ports; then, alternating, a bare nats-server with the
config the agent renders and `leaf-agent run`, each timed from process start. Everything started is
stopped; temp files removed. Prints lines `ROW name bare agent goal` for bench/run.sh, and a human
summary on stderr.

The observers do not poll while a start is timed: on 2 cores an observer's CPU is taken from the
processes it times, and more so from the run that has more of them. The hub's acceptance is read
off the hub's own log (hublog.py) as the hub writes it, the agent's ready file is waited for, both
with inotify.
(Until this round the hub was polled every 0.5 ms over HTTP, about 0.3 ms of CPU a poll: 60 % of a
core beside the starting leaf, in both columns.)
"""
import argparse, ctypes, http.client, json, os, random, select, signal, socket, statistics, subprocess, sys, \
    tempfile, time, shutil

import hublog

now = time.monotonic


def free_port():
    # Below the kernel's ephemeral range, so no client socket can hold it; checked by binding.
    while True:
        p = random.randint(20000, 32000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            pass
        finally:
            s.close()


class Http:
    """One kept-alive HTTP/1.1 connection; reconnects when the server closed it."""

    def __init__(self, port):
        self.port, self.c = port, None

    def get(self, path):
        for _ in range(2):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                self.c.request("GET", path)
                r = self.c.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                if self.c:
                    self.c.close()
                self.c = None
        return 0, b""


def hub_leafs(hub):
    st, body = hub.get("/leafz")
    return json.loads(body).get("leafnodes", 0) if st == 200 else -1


class HubLog:
    """The hub's log (run with -D), read as it grows: when it accepted a leaf, by its own clock."""

    def __init__(self, path):
        self.f, self.buf = open(path, "rb"), b""
        self.watch = Inotify(path, Inotify.IN_MODIFY)

    def accepted_after(self, t_wall, timeout, what):
        """The wall-clock time of the first acceptance logged after t_wall (read as the hub writes)."""
        end = now() + timeout
        while now() < end:
            self.watch.drain()
            found, self.buf = hublog.acceptances(self.buf + self.f.read())
            for t, _ in found:
                if t >= t_wall:
                    return t
            self.watch.block(0.05)
        raise SystemExit(f"bench: timed out waiting for {what}")


class Inotify:
    """One inotify watch: the observer sleeps until the watched path changes (no polling)."""
    IN_MODIFY, IN_MOVED_TO, IN_CREATE = 0x2, 0x80, 0x100

    def __init__(self, path, mask):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self.fd < 0 or libc.inotify_add_watch(self.fd, path.encode(), mask) < 0:
            raise SystemExit(f"bench: inotify on {path}: {os.strerror(ctypes.get_errno())}")

    def drain(self):
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass

    def block(self, timeout):
        select.select([self.fd], [], [], timeout)


class FileWatch:
    """Blocks (inotify, no polling) until a file in a directory satisfies a predicate."""

    def __init__(self, directory):
        self.watch = Inotify(directory, Inotify.IN_CREATE | Inotify.IN_MOVED_TO)

    def wait(self, pred, timeout, what, alive=lambda: True):
        end = now() + timeout
        while True:
            self.watch.drain()
            if pred():
                return time.time()
            if now() > end or not alive():
                raise SystemExit(f"bench: timed out waiting for {what}")
            self.watch.block(0.05)


def wait(pred, timeout, what):
    end = now() + timeout
    while now() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.0005)
    raise SystemExit(f"bench: timed out waiting for {what}")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime


def cpu_ms(pid):
    """CPU time of a process so far, its live threads, from the scheduler's nanosecond counters
    (nats-server's threads and the agent's workers live on; a thread that ended is not counted)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e6


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def stop(p, timeout=15):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--idle-seconds", type=float, default=20)
    ap.add_argument("--floor", help="bench/floor.c built: also time the least any wrapper can do (P1 floor)")
    ap.add_argument("--leaf-nats", default="nats-server", help="the leaf's nats-server (bare, floor and the agent's)")
    ap.add_argument("--hub-nats", default="nats-server", help="the hub's nats-server")
    ap.add_argument("--p1-p2-only", action="store_true", help="only P1, CPU to ready and P2 (the per-release rows)")
    a = ap.parse_args()
    leaf_nats = shutil.which(a.leaf_nats) or a.leaf_nats
    agent = os.path.abspath(a.agent)
    tmp = tempfile.mkdtemp(prefix="leaf-bench-")
    procs = []
    try:
        hp, lp, mp = free_port(), free_port(), free_port()
        subprocess.run([agent, "dev-hub", "--dir", f"{tmp}/hub", "--port", str(hp), "--leaf-port", str(lp),
                        "--http-port", str(mp)], check=True, stdout=subprocess.DEVNULL)
        with open(f"{tmp}/hub.log", "wb") as log:
            hubp = subprocess.Popen([a.hub_nats, "-c", f"{tmp}/hub/hub.conf", "-D"], stdout=subprocess.DEVNULL,
                                    stderr=log)
        procs.append(hubp)
        hub = Http(mp)
        wait(lambda: hub.get("/healthz")[0] == 200, 20, "the hub")
        hub_log = HubLog(f"{tmp}/hub.log")

        listen, monitor, health = free_port(), free_port(), free_port()
        state = f"{tmp}/state"
        flags = ["-c", f"{tmp}/hub/agent.toml", "--state-dir", state, "--listen", f"127.0.0.1:{listen}",
                 "--monitor", f"127.0.0.1:{monitor}", "--health-listen", f"127.0.0.1:{health}", "--log-level", "warn",
                 "--nats-server", leaf_nats]
        subprocess.run([agent, "init", *flags], check=True, stderr=subprocess.DEVNULL)
        conf = f"{state}/nats.conf"
        bare_conf = f"{tmp}/bare.conf"
        shutil.copy(conf, bare_conf)  # the agent rewrites its own copy at each start
        ready_file = f"{state}/ready"
        state_watch = FileWatch(state)

        res = {k: [] for k in ["p1_bare", "p1_agent", "p1_floor", "p2_lag", "p5_bare", "p5_agent", "p7_bare", "p7_agent", "cpu_bare",
                                 "cpu_agent"]}
        rss_agent = rss_nats = idle_agent = idle_nats = None

        def no_leaf():
            wait(lambda: hub_leafs(hub) == 0, 15, "the hub to drop the leaf")

        def bare_start():
            """A bare nats-server, and the ms from its spawn until the hub accepted it."""
            t0 = time.time()
            p = subprocess.Popen([leaf_nats, "-c", bare_conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            return p, (hub_log.accepted_after(t0, 20, "a bare leaf") - t0) * 1000

        def bare_run(i):
            p, ms = bare_start()
            res["p1_bare"].append(ms)
            time.sleep(0.1)  # CPU read like the agent's: once the start's work is over
            res["cpu_bare"].append(cpu_ms(p.pid))
            # P5 bare: SIGKILL, and this harness restarts it at once (no supervisor delay).
            p.kill(); p.wait(); no_leaf()
            if a.p1_p2_only:
                return
            p, ms = bare_start()
            res["p5_bare"].append(ms)
            stop(p); no_leaf()

        def floor_run(i):
            floor_ready = f"{tmp}/floor-ready"
            t0 = time.time()
            p = subprocess.Popen([os.path.abspath(a.floor), floor_ready, leaf_nats, "-c", bare_conf],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            # Timed like the bare run, to the hub's acceptance: its line comes before the hub accepts
            # the leaf, and timing it there would credit the wrapper with time the bare run is charged.
            res["p1_floor"].append((hub_log.accepted_after(t0, 20, "the floor wrapper's leaf") - t0) * 1000)
            wait(lambda: os.path.exists(floor_ready), 20, "the floor wrapper's line")
            stop(p); no_leaf()

        def agent_run(i, measure_idle):
            nonlocal rss_agent, rss_nats, idle_agent, idle_nats
            t0 = time.time()
            p = subprocess.Popen([agent, "run", *flags], stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/agent-{i}.log", "w"))
            procs.append(p)
            t_ready = state_watch.wait(lambda: os.path.exists(ready_file), 20, f"the agent (see {tmp}/agent-{i}.log)",
                                       alive=lambda: p.poll() is None)
            accepted = hub_log.accepted_after(t0, 20, "the agent's leaf")
            res["p1_agent"].append((t_ready - t0) * 1000)
            res["p2_lag"].append((t_ready - accepted) * 1000)
            # The agent and its nats-server 100 ms after ready, as the bare one after the hub's
            # acceptance: all a start costs, the checks and the answers to them included.
            time.sleep(0.1)
            res["cpu_agent"].append(cpu_ms(p.pid) + sum(cpu_ms(c) for c in children(p.pid)))
            assert Http(health).get("/readyz")[0] == 200
            if a.p1_p2_only:
                stop(p); no_leaf()
                return
            # P7: `leaf-agent health` against the ready agent, alternating with the exec floor.
            for _ in range(3):
                for kind, argv in (("p7_agent", [agent, "health", "--state-dir", state, "--health-listen", f"127.0.0.1:{health}"]),
                                   ("p7_bare", ["/bin/true"])):
                    t = now()
                    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    res[kind].append((now() - t) * 1000)
                    assert r.returncode == 0, argv
            nats = [c for c in children(p.pid)]
            if measure_idle:
                time.sleep(1)
                rss_agent, rss_nats = rss_kb(p.pid), rss_kb(nats[0])
                c0, n0, t = cpu_ticks(p.pid), cpu_ticks(nats[0]), now()
                time.sleep(a.idle_seconds)
                hz, dt = os.sysconf("SC_CLK_TCK"), now() - t
                idle_agent = (cpu_ticks(p.pid) - c0) / hz / dt * 100
                idle_nats = (cpu_ticks(nats[0]) - n0) / hz / dt * 100
            # P5: SIGKILL the agent's nats-server, time until the agent is ready again.
            st0 = os.stat(ready_file)
            t0 = time.time()
            os.kill(nats[0], signal.SIGKILL)
            def ready_again():
                try:
                    st = os.stat(ready_file)
                    return (st.st_ino, st.st_mtime_ns) != (st0.st_ino, st0.st_mtime_ns)
                except FileNotFoundError:
                    return False
            res["p5_agent"].append((state_watch.wait(ready_again, 60, "the agent to be ready again") - t0) * 1000)
            stop(p)
            if p.returncode != 0:
                raise SystemExit(f"bench: agent exited {p.returncode} (see {tmp}/agent-{i}.log)")
            no_leaf()

        for i in range(a.runs):
            order = [bare_run, agent_run] + ([floor_run] if a.floor else [])
            order = order[i % len(order):] + order[:i % len(order)]  # each kind goes first in turn
            for f in order:
                f(i, i == a.runs // 2) if f is agent_run else f(i)
            print(f"run {i + 1}/{a.runs}: bare {res['p1_bare'][-1]:.1f} ms, agent {res['p1_agent'][-1]:.1f} ms, "
                  f"lag {res['p2_lag'][-1]:.1f} ms" + ("" if a.p1_p2_only else f", kill->ready {res['p5_agent'][-1]:.0f} ms"),
                  file=sys.stderr)

        m = {k: median(v) if v else 0 for k, v in res.items()}
        if a.p1_p2_only:
            version = subprocess.run([leaf_nats, "--version"], capture_output=True, text=True).stdout.split("v")[-1].strip()
            print(f"ROW P1_time_to_ready_ms@{version} {m['p1_bare']:.1f} {m['p1_agent']:.1f} <=1.05x")
            print(f"ROW CPU_to_ready_ms@{version} {m['cpu_bare']:.1f} {m['cpu_agent']:.1f} (P6)")
            print(f"ROW P2_accept_to_ready_lag_ms@{version} - {m['p2_lag']:.1f} <=5ms")
            return
        print(f"ROW P1_time_to_ready_ms {m['p1_bare']:.1f} {m['p1_agent']:.1f} <=1.05x")
        if a.floor:
            print(f"ROW P1_floor_any_wrapper_ms {m['p1_bare']:.1f} {m['p1_floor']:.1f} (floor)")
        print(f"ROW CPU_to_ready_ms {m['cpu_bare']:.1f} {m['cpu_agent']:.1f} (P6)")
        print(f"ROW P2_accept_to_ready_lag_ms - {m['p2_lag']:.1f} <=5ms")
        print(f"ROW P3_rss_after_ready_MB {rss_nats / 1024:.1f} {rss_agent / 1024:.1f} <=8MB")
        print(f"ROW P4_idle_cpu_pct_of_core {idle_nats:.3f} {idle_agent:.3f} <=0.2%")
        print(f"ROW P5_sigkill_to_ready_ms {m['p5_bare']:.0f} {m['p5_agent']:.0f} <=1500ms")
        print(f"ROW P7_health_wall_ms {m['p7_bare']:.1f} {m['p7_agent']:.1f} <=5ms")
        print(f"NOTE runs={a.runs} p7_samples={len(res['p7_agent'])} idle_seconds={a.idle_seconds}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
