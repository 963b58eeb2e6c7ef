#!/usr/bin/env python3
"""e2e: `tapwall run --backend afpacket --workers 2` with the seed's firewall between a LAN
namespace that holds 16 more addresses (so flows spread over both workers: the owner of a
flow is a hash of its address pair) and a guest behind tap0.

Asserts:
  - `--workers` above 1 with pcap, and 0 or 17 workers: usage errors (exit 2).
  - 48 LAN->guest TCP connections to 80/443/8080 from 16 source addresses: all connect and
    carry data both ways intact; LAN->guest TCP 22 and 25 from 8 addresses: all refused
    (the guest never sees them).
  - 32 guest->LAN TCP connections (16 addresses x 2 ports) and 16 UDP request/replies:
    replies come back (ESTABLISHED on the worker owning the flow).
  - ICMP errors reach the guest as RELATED (the seed lets ICMP into the guest only as
    ESTABLISHED,RELATED): port unreachable from every LAN address for guest UDP to a
    closed port, and time exceeded from the LAN router (192.0.2.1) for guest UDP with
    TTL 1 to 203.0.113.1-8 (traceroute's first hop) — an error whose outer address pair
    differs from the flow it quotes, so it is steered by the quoted pair; `show
    conntrack` proves at least one of those flows lives on another worker than the
    router<->guest pair.
  - Fragmented pings (-s 4000): guest->LAN over IPv4 to all 16 addresses (the fragmented
    replies are ESTABLISHED), LAN->guest over IPv4 still dropped, IPv6 both ways.
  - Both workers judged frames (`show ports` workers[].frames, metrics
    tapwall_worker_frames_total), `show conntrack` lists flows of both workers, `show macs`
    lists each station once on its port, nothing was lost in a handoff ring.
  - host port br0 (a multi-queue tap, one queue per worker) pings 8 LAN addresses and the
    guest, and reaches the guest's TCP 22 (host traffic is not FORWARD traffic).
  - `ctl reload` of rules opening tcp/22: every worker judges by them at once (22 open
    from all 16 addresses).
  - tapwall exits 0 on SIGTERM, without sanitizer reports.
"""
import errno
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lab as L  # noqa: E402

EXTRA = [f"192.0.2.{100 + i}" for i in range(16)]
UNROUTED = [f"203.0.113.{1 + i}" for i in range(8)]
IP_RECVERR = 11


def exchange(c, srv, tag: str) -> str:
    """Request/response on an accepted pair; "" when intact, else what went wrong."""
    req = f"req {tag} {os.urandom(8).hex()}".encode()
    rsp = f"rsp {tag} {os.urandom(8).hex()}".encode()
    try:
        c.sendall(req)
        if L.recv_exact(srv, len(req)) != req:
            return "request corrupted"
        srv.sendall(rsp)
        if L.recv_exact(c, len(rsp)) != rsp:
            return "response corrupted"
    except OSError as e:
        return f"exchange failed: {e}"
    return ""


def connect_many(client_ns, server_ns, cases):
    """cases: (client_addr, server_addr, port). One listener per (server_addr, port) with a
    deep backlog; connections one after another (each costs a few ms when open). Returns the
    list of failures (empty when all connected and exchanged data intact)."""
    listeners = {}
    fails = []
    try:
        for _, saddr, port in cases:
            if (saddr, port) not in listeners:
                s = L.sock_in(server_ns, socket.AF_INET)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((saddr, port))
                s.listen(64)
                listeners[(saddr, port)] = s
        for caddr, saddr, port in cases:
            c = L.tcp_connect(client_ns, saddr, port, bind=(caddr, 0))
            if c is None:
                fails.append(f"{caddr}->{saddr}:{port} connect failed")
                continue
            with c:
                srv = L.accept(listeners[(saddr, port)])
                if srv is None:
                    fails.append(f"{caddr}->{saddr}:{port} not accepted")
                    continue
                with srv:
                    err = exchange(c, srv, f"{caddr}->{saddr}:{port}")
                    if err:
                        fails.append(f"{caddr}->{saddr}:{port} {err}")
    finally:
        for s in listeners.values():
            s.close()
    return fails


def blocked_many(client_ns, server_ns, cases):
    """All attempts at once (threads); returns the ones that were NOT blocked."""
    listeners = {}
    for _, saddr, port in cases:
        if (saddr, port) not in listeners:
            s = L.sock_in(server_ns, socket.AF_INET)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((saddr, port))
            s.listen(64)
            listeners[(saddr, port)] = s
    leaked = []

    def one(caddr, saddr, port):
        c = L.tcp_connect(client_ns, saddr, port, bind=(caddr, 0))
        if c is not None:
            leaked.append(f"{caddr}->{saddr}:{port} connected")
            c.close()

    ts = [threading.Thread(target=one, args=c, daemon=True) for c in cases]
    for t in ts:
        t.start()
    for t in ts:
        t.join(L.CONNECT_TIMEOUT * 3)
    for (saddr, port), s in listeners.items():
        late = L.accept_nowait(s)
        if late:
            leaked.append(f"server {saddr}:{port} saw a connection")
            late.close()
        s.close()
    return leaked


def udp_error(ns, dst, port=9, ttl=None) -> int:
    """Sends one datagram from a connected UDP socket with IP_RECVERR; returns the errno the
    ICMP error it provoked set (0 when none arrived)."""
    s = L.sock_in(ns, socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
        if ttl:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        s.connect((dst, port))
        s.send(b"probe")
        s.settimeout(L.CONNECT_TIMEOUT)
        try:
            s.recv(100)
        except socket.timeout:
            return 0
        except OSError as e:
            return e.errno or -1
        return 0
    finally:
        s.close()


def body(lab: L.Lab, res: L.Results, args):
    if args.backend != "afpacket":
        print("skipped: --workers needs the afpacket backend")
        sys.exit(L.SKIP)
    # Refused before anything is opened: a clear usage error (exit 2) with its reason.
    base = [lab.tapwall, "run", "--uplink", "eth0", "--vm", "tap0", "--rules", L.SEED_SCRIPT,
            "--control", ""]
    for extra, why in ((["--workers", "2", "--backend", "pcap"], "needs --backend afpacket"),
                       (["--workers", "0", "--backend", "afpacket"], "between 1 and 16"),
                       (["--workers", "17", "--backend", "afpacket"], "between 1 and 16")):
        r = L.run(base + extra, check=False)
        res.check(f"run {' '.join(extra)}: usage error", r.returncode == 2 and why in r.stdout,
                  f"rc={r.returncode} {r.stdout.strip()[-120:]}")
    lab.up(guests=1)
    for a in EXTRA:
        lab.ip("lan", "addr", "add", a + "/24", "dev", "lan0")
    # The LAN namespace is the guest's router to 203.0.113.0/24 (on-link on lan0: a TTL 1
    # packet expires there before any neighbour lookup); no ICMP rate limit, so every probe
    # gets its time exceeded.
    lab.exec("lan", "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.icmp_ratelimit=0")
    lab.ip("lan", "route", "add", "203.0.113.0/24", "dev", "lan0")
    lab.ip("g0", "route", "add", "203.0.113.0/24", "via", L.LAN["ip"])
    if not res.check("tap_relay attached to tap0", lab.start_relay(0)):
        return
    if not res.check("tapwall --workers 2 ready", lab.start_tapwall(L.SEED_SCRIPT, host_port=True,
                                                         extra=("--workers", "2")),
                     lab.start_error):
        return
    res.check("tapwall says it runs 2 workers, a fanout group per port, 2 host tap queues",
              "2 workers" in lab.log("tapwall") and "fanout group" in lab.log("tapwall")
              and "2 tap queues" in lab.log("tapwall"))
    lan, g0 = lab.ns("lan"), lab.ns("g0")
    guest, lanip = L.GUESTS[0]["ip"], L.LAN["ip"]

    # Before any guest-initiated flow exists.
    cases = [(EXTRA[i % 16], guest, (80, 443, 8080)[i % 3]) for i in range(48)]
    fails = connect_many(lan, g0, cases)
    res.check("48 LAN->guest tcp 80/443/8080 connections from 16 addresses: open, data intact",
              not fails, "; ".join(fails[:5]))
    leaked = blocked_many(lan, g0, [(EXTRA[i], guest, (22, 25)[i % 2]) for i in range(8)])
    res.check("LAN->guest tcp 22/25 from 8 addresses: all blocked", not leaked, "; ".join(leaked))

    cases = [("", a, p) for a in EXTRA for p in (5001, 3306)]
    fails = connect_many(g0, lan, [(guest, a, p) for _, a, p in cases])
    res.check("32 guest->LAN tcp connections to 16 addresses: open, replies come back",
              not fails, "; ".join(fails[:5]))

    # UDP request/reply to every LAN address (the reply is ESTABLISHED: the seed only lets
    # dports >= 1024 in, and the guest's source port is ephemeral, so make it < 1024).
    bad = []
    for i, a in enumerate(EXTRA):
        srv = L.udp_socket(lan, (a, 5353))
        cli = L.udp_socket(g0, (guest, 900 + i))
        try:
            cli.sendto(b"q" + bytes([i]), (a, 5353))
            data, peer = L.udp_recv(srv)
            if data != b"q" + bytes([i]):
                bad.append(f"{a}: request lost")
                continue
            srv.sendto(b"r" + bytes([i]), peer)
            data, _ = L.udp_recv(cli)
            if data != b"r" + bytes([i]):
                bad.append(f"{a}: reply to port {900 + i} lost")
        finally:
            srv.close()
            cli.close()
    res.check("16 guest->LAN UDP requests (sport < 1024): every reply comes back", not bad, "; ".join(bad))

    # ICMP errors: allowed into the guest only as RELATED.
    errs = {a: udp_error(g0, a) for a in [lanip] + EXTRA}
    res.check("port unreachable from every LAN address reaches the guest (RELATED)",
              all(e == errno.ECONNREFUSED for e in errs.values()),
              ", ".join(f"{a}:{errno.errorcode.get(e, e)}" for a, e in errs.items() if e != errno.ECONNREFUSED))
    errs = {a: udp_error(g0, a, ttl=1) for a in UNROUTED}
    res.check("time exceeded from the router for TTL 1 to 203.0.113.1-8 reaches the guest (RELATED)",
              all(e == errno.EHOSTUNREACH for e in errs.values()),
              ", ".join(f"{a}:{errno.errorcode.get(e, e)}" for a, e in errs.items()))
    _, ct = lab.ctl("show", "conntrack")
    flows = ct.get("conntrack", [])
    router_pair = {f["worker"] for f in flows if {f["src"], f["dst"]} == {guest, lanip}}
    unrouted = {f["worker"] for f in flows if f["dst"] in UNROUTED}
    res.check("some errors were steered by their quoted pair to another worker than the router's",
              len(router_pair) == 1 and bool(unrouted - router_pair),
              f"router<->guest on {router_pair}, 203.0.113.x flows on {unrouted}")

    # Fragments: 4000-byte pings, 3 fragments each way.
    ok = [a for a in EXTRA if lab.exec("g0", "ping", "-n", "-c", "1", "-w", "3", "-s", "4000", a,
                                        check=False).returncode == 0]
    res.check("guest->LAN ping -s 4000 to 16 addresses: fragmented replies come back",
              len(ok) == 16, f"{len(ok)}/16")
    r = lab.exec("lan", "ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "-s", "4000", guest, check=False)
    res.check("LAN->guest ping -s 4000 still dropped (NEW echo to the guest)", r.returncode != 0)
    g6, l6 = L.GUESTS[0]["ip6"], L.LAN["ip6"]
    res.check("guest->LAN ping6 -s 4000 (fragmented, unfiltered)",
              lab.exec("g0", "ping", "-6", "-n", "-c", "1", "-w", "3", "-s", "4000", l6, check=False).returncode == 0)
    res.check("LAN->guest ping6 -s 4000 (fragmented, unfiltered)",
              lab.exec("lan", "ping", "-6", "-n", "-c", "1", "-w", "3", "-s", "4000", g6, check=False).returncode == 0)

    # Host port: the bridge namespace's own stack on br0, one tap queue per worker.
    lab.ip("br", "addr", "add", L.HOST["ip"] + "/24", "dev", "br0")
    lab.ip("br", "link", "set", "br0", "up")
    ok = [a for a in [lanip] + EXTRA[:8] if lab.ping("br", a, expect_reply=True)]
    res.check("host port br0 pings 9 LAN addresses", len(ok) == 9, f"{len(ok)}/9")
    res.check("host port br0 pings the guest", lab.ping("br", guest, expect_reply=True))
    out, d = L.tcp_exchange(lab.ns("br"), g0, guest, 22)
    res.check("host port br0 -> guest tcp/22 open (host traffic is not FORWARD)", out == "ok", f"{out}: {d}")

    # Both workers at work.
    lab.sync_dataplane()
    _, ports = lab.ctl("show", "ports")
    workers = ports.get("workers", [])
    res.check("show ports lists 2 workers, each judged frames",
              len(workers) == 2 and all(w["frames"] > 0 for w in workers),
              str([(w["worker"], w["frames"], w["handed_out"], w["handed_in"]) for w in workers]))
    res.check("no frame lost in a handoff ring", all(w["handoff_full"] == 0 for w in workers))
    res.check("show conntrack lists flows of both workers",
              {f["worker"] for f in flows} == {0, 1}, str(sorted({f["worker"] for f in flows})))
    _, macs = lab.ctl("show", "macs")
    entries = [(m["mac"], m["port"]) for m in macs.get("macs", [])]
    res.check("show macs: LAN and guest each once, on their ports",
              entries.count((L.LAN["mac"], "eth0")) == 1 and entries.count((L.GUESTS[0]["mac"], "tap0")) == 1
              and len(entries) == len({e[0] for e in entries}), str(entries))

    # Reload through ctl: in force on every worker when answered.
    rc, doc = lab.ctl("reload", os.path.join(L.RULES_DIR, "reload_open22.v4"), check=False)
    res.check("ctl reload applied", rc == 0 and doc and doc.get("applied"), str(doc))
    fails = connect_many(lan, g0, [(a, guest, 22) for a in EXTRA])
    res.check("after reload tcp/22 is open from all 16 addresses (both workers)", not fails,
              "; ".join(fails[:5]))

    rc, problems = lab.stop_tapwall()
    res.check("tapwall exits 0 on SIGTERM, no sanitizer report", rc == 0 and not problems,
              f"rc={rc} {problems}")


if __name__ == "__main__":
    L.main("workers", body)
