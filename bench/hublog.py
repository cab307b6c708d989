"""The hubs' acceptance lines, shared by bench.py and scale.py.

A hub run with -D logs "Authenticated JWT: Leafnode" where it has judged a leaf's credentials, just
before it lists the leaf in /leafz (nats-server's server/auth.go, leafnode.go), with a microsecond
wall-clock stamp: the moment "the hub accepted the leaf", read without polling the hub.
"""
import datetime

MARK = "Authenticated JWT: Leafnode"


def acceptances(buf):
    """Parses the complete lines of buf: ([(wall-clock time, leaf IP)], the incomplete rest)."""
    *lines, rest = buf.split(b"\n")
    out = []
    for raw in lines:
        line = raw.decode(errors="replace")
        if MARK not in line:
            continue
        # "[pid] 2026/12/04 14:00:51.379839 [DBG] 10.200.0.3:41234 - lid:7 - Authenticated JWT: ..."
        # (local wall-clock time, as time.time() is)
        _, date, clock, _, peer = line.split(" ", 5)[:5]
        t = datetime.datetime.strptime(f"{date} {clock}", "%Y/%m/%d %H:%M:%S.%f").timestamp()
        out.append((t, peer.rsplit(":", 1)[0]))
    return out, rest
