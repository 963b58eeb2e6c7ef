#!/usr/bin/env python3
"""e2e: the seed's firewall (tools/golden/seed-firewall.sh, the original script verbatim)
enforced by a live `tapwall run` between a LAN namespace and a guest behind tap0 (a real
kernel stack through tap_relay), plus the host port br0.

Asserts, for the backend given:
  - LAN->guest TCP 22 and 25: the connection cannot be established and the guest never
    sees it; TCP 80, 443, 8080: connects and a request/response arrives intact.
  - guest->LAN TCP to ports 22, 25, 3306 (any port): connects, data both ways intact.
  - DHCP: LAN 67->guest 68 (unicast, NEW) arrives; LAN 5000->guest 68 does not (the rule
    needs sport 67:68); guest 68->255.255.255.255:67 (broadcast) reaches the LAN; LAN
    67->255.255.255.255:68 reaches the guest.
  - ICMP: LAN->guest ping gets no reply; guest->LAN ping does.
  - IPv6 (no ip6tables rules, so unfiltered): ping6 both ways, each side's neighbour entry
    resolved by ND holds the other's MAC, and LAN->guest TCP 22 over IPv6 connects.
  - host port br0 (192.0.2.10 in the bridge namespace): pings the LAN and the guest, and
    reaches the guest's TCP 22 (the host's own traffic is not FORWARD traffic).
  - tapwall exits 0 on SIGTERM, without sanitizer reports.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lab as L  # noqa: E402


def body(lab: L.Lab, res: L.Results, args):
    lab.up(guests=1)
    if not res.check("tap_relay attached to tap0", lab.start_relay(0)):
        return
    if not res.check("tapwall ready (ctl show ports answers)",
                     lab.start_tapwall(L.SEED_SCRIPT, host_port=True), lab.start_error):
        return
    lan, g0 = lab.ns("lan"), lab.ns("g0")
    guest, lanip = L.GUESTS[0]["ip"], L.LAN["ip"]

    # Before any guest-initiated flow exists, so nothing is ESTABLISHED by accident. All at
    # once (each attempt has its own listener), so the blocked ones cost one timeout.
    want = {22: "blocked", 25: "blocked", 80: "ok", 443: "ok", 8080: "ok"}
    outs = L.tcp_exchanges([(lan, g0, guest, p) for p in want])
    for (port, w), (out, d) in zip(want.items(), outs):
        name = f"LAN->guest tcp/{port} " + ("blocked" if w == "blocked" else "open, data intact")
        res.check(name, out == w, f"{out}: {d}")
    res.check("LAN->guest ping dropped", lab.ping("lan", guest, expect_reply=False))

    # DHCP ports (below 1024: only the 67:68 rule can let the LAN's side in).
    gsock = L.udp_socket(g0, ("", 68), broadcast=True, device="gst0")
    lsock = L.udp_socket(lan, ("", 67), broadcast=True, device="lan0")
    bad = L.udp_socket(lan, (lanip, 5000))
    try:
        bad.sendto(b"not-dhcp", (guest, 68))
        data, _ = L.udp_recv(gsock, timeout=1.5)
        res.check("LAN udp 5000->guest 68 dropped (sport outside 67:68)", data is None, repr(data))
        lsock.sendto(b"dhcp-offer-unicast", (guest, 68))
        data, peer = L.udp_recv(gsock)
        res.check("DHCP LAN 67->guest 68 unicast passes", data == b"dhcp-offer-unicast",
                  f"{data!r} from {peer}")
        gsock.sendto(b"dhcp-discover", ("255.255.255.255", 67))
        data, peer = L.udp_recv(lsock)
        res.check("DHCP guest 68->broadcast:67 reaches the LAN",
                  data == b"dhcp-discover" and peer == (guest, 68), f"{data!r} from {peer}")
        lsock.sendto(b"dhcp-offer-bcast", ("255.255.255.255", 68))
        data, peer = L.udp_recv(gsock)
        res.check("DHCP LAN 67->broadcast:68 reaches the guest",
                  data == b"dhcp-offer-bcast" and peer == (lanip, 67), f"{data!r} from {peer}")
    finally:
        for s in (gsock, lsock, bad):
            s.close()

    for port, (out, d) in zip((22, 25, 3306), L.tcp_exchanges([(g0, lan, lanip, p) for p in (22, 25, 3306)])):
        res.check(f"guest->LAN tcp/{port} open, replies come back", out == "ok", f"{out}: {d}")
    res.check("guest->LAN ping works", lab.ping("g0", lanip, expect_reply=True))

    # IPv6: no --rules6, so not filtered; ND must cross the bridge both ways.
    g6, l6 = L.GUESTS[0]["ip6"], L.LAN["ip6"]
    res.check("LAN->guest ping6 works", lab.ping("lan", g6, expect_reply=True))
    res.check("guest->LAN ping6 works", lab.ping("g0", l6, expect_reply=True))
    res.check("ND: LAN resolved the guest's MAC", lab.neigh_mac("lan", g6) == L.GUESTS[0]["mac"],
              str(lab.neigh_mac("lan", g6)))
    res.check("ND: guest resolved the LAN's MAC", lab.neigh_mac("g0", l6) == L.LAN["mac"],
              str(lab.neigh_mac("g0", l6)))
    out, d = L.tcp_exchange(lan, g0, g6, 22)
    res.check("LAN->guest tcp/22 over IPv6 open (no ip6tables rules)", out == "ok", f"{out}: {d}")

    # Host port: the bridge namespace's own stack on br0.
    lab.ip("br", "addr", "add", L.HOST["ip"] + "/24", "dev", "br0")
    lab.ip("br", "link", "set", "br0", "up")
    br = lab.ns("br")
    res.check("host port br0 pings the LAN", lab.ping("br", lanip, expect_reply=True))
    res.check("host port br0 pings the guest", lab.ping("br", guest, expect_reply=True))
    out, d = L.tcp_exchange(br, g0, guest, 22)
    res.check("host port br0 -> guest tcp/22 open (host traffic is not FORWARD)", out == "ok",
              f"{out}: {d}")
    out, d = L.tcp_exchange(br, lan, lanip, 8081)
    res.check("host port br0 -> LAN tcp/8081 open", out == "ok", f"{out}: {d}")

    rc, problems = lab.stop_tapwall()
    res.check("tapwall exits 0 on SIGTERM, no sanitizer report", rc == 0 and not problems,
              f"rc={rc} {problems}")


if __name__ == "__main__":
    L.main("seed_policy", body)
