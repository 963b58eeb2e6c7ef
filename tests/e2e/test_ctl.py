#!/usr/bin/env python3
"""e2e: issue 5 — every `tapwall ctl` subcommand against a running `tapwall run`, the
metrics endpoint, and the drop recorder (`--drops DIR`).

Rules: rules/ctl_rules.v4 = the seed's rules + `-A vboxin -p tcp --dport 23 -j DROP` (so
rule_drop can be seen). Traffic: guest->LAN ping, LAN->guest tcp/80 (multiport rule),
LAN->guest tcp/22 and tcp/25 (chain policy), tcp/23 (DROP rule), a LAN->guest tcp/8080
connection kept open, and hand-made frames from the LAN: multicast and all-zero source
MACs, a frame to 01:80:c2:00:00:01, an IPv4 header with a bad checksum, a TCP header with
data offset 3, and a frame to the LAN's own MAC (same_port).

Asserts (ctl --json):
  - show ports: eth0's and tap0's rx/tx frame and byte counters increased with the traffic;
    eth0's drops name chain_policy and rule_drop;
  - show macs: the LAN's MAC on eth0, the guest's on tap0;
  - show conntrack: the kept LAN->guest :8080 flow, state ESTABLISHED, replied, its timeout
    from `--ct nf_conntrack_tcp_timeout_established=86400` (1 day, not the default 5); the
    summary: count, and max = `--ct nf_conntrack_max=50000`;
  - `--rx-coalesce-us 50` reaches the bridge (its start-up log line); 10001, 5ms and -1 are
    usage errors (exit 2);
  - show rules: the multiport rule's packet counter went up with the :80 connection;
  - show drops: chain_policy >= the blocked attempts, the DROP rule in by_rule, every
    hand-made frame's reason counted, recorder counters present;
  - reload --dry-run rules/ctl_dryrun.v4 (no 1024:65535 rule, no state rule): not applied,
    generation unchanged, and the kept :8080 flow is in `changes` (accept -> drop); a broken
    file is refused with its file:line;
  - reload FILE and reload (no FILE): applied, the generation increments each time;
  - metrics: Prometheus text with per-reason drop counters, the policy generation, and
    per worker the conntrack entries and table size;
  - trace "tcp dst port 22": a live SYN shown as JSON: in eth0, ct NEW, dropped toward
    tap0 by chain_policy at the `:FORWARD DROP` line, with the rules tried;
  - dump start "tcp port 80" / dump stop: the exchange between them is recorded as accepted
    frames (the SYN with the multiport rule), the exchange after stop is not — both right
    after the command's reply (a change acknowledged must be in effect);
  - the recorded pcapng (read after SIGTERM, which flushes): per reason, a frame on
    interface eth0 whose comment names the reason and the deciding rule (path:line of the
    DROP rule, of `:FORWARD DROP` for chain_policy, `-` for drops before the policy).
"""
import glob
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lab as L  # noqa: E402

RULES = os.path.join(L.RULES_DIR, "ctl_rules.v4")
DRYRUN = os.path.join(L.RULES_DIR, "ctl_dryrun.v4")
BROKEN = os.path.join(L.RULES_DIR, "broken.v4")
METRICS_PORT = 9310


def line_of(path, pred):
    with open(path) as f:
        for i, l in enumerate(f, 1):
            if pred(l.strip()):
                return i
    raise LookupError(path)


def port(doc, name):
    return next(p for p in doc["ports"] if p["name"] == name)


def rule_by_line(doc, line):
    return next((r for r in doc["rules"] if r["rule"] == f"{RULES}:{line}"), None)


def http_get(ns, port_, path="/metrics"):
    s = L.sock_in(ns)
    s.settimeout(L.CONNECT_TIMEOUT)
    with s:
        s.connect(("127.0.0.1", port_))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return L.recv_all(s).decode(errors="replace")


CT_ESTABLISHED_S = 86400
CT_MAX = 50000


def body(lab: L.Lab, res: L.Results, args):
    lab.up(guests=1)
    drops_dir = os.path.join(lab.tmp, "drops")
    if not res.check("tap_relay attached to tap0", lab.start_relay(0)):
        return
    if not res.check("tapwall ready (with --drops and --metrics)",
                     lab.start_tapwall(RULES, extra=["--drops", drops_dir, "--metrics",
                                                     f"127.0.0.1:{METRICS_PORT}", "--ct",
                                                     f"nf_conntrack_tcp_timeout_established={CT_ESTABLISHED_S}",
                                                     "--ct", f"nf_conntrack_max={CT_MAX}",
                                                     "--rx-coalesce-us", "50"]),
                     lab.start_error):
        return
    res.check("--rx-coalesce-us reaches the bridge",
              "rx coalescing under dense traffic: 50 us" in lab.log("tapwall"))
    for bad in ("10001", "5ms", "-1"):
        r = L.run([lab.tapwall, "run", "--uplink", "eth0", "--vm", "tap0", "--rules", RULES,
                   "--control", "", "--rx-coalesce-us", bad], check=False)
        res.check(f"--rx-coalesce-us {bad}: usage error",
                  r.returncode == 2 and "--rx-coalesce-us takes" in r.stdout,
                  f"rc={r.returncode} {r.stdout.strip()[-120:]}")
    lan, g0, guest, lanip = lab.ns("lan"), lab.ns("g0"), L.GUESTS[0]["ip"], L.LAN["ip"]
    gmac, lmac = L.GUESTS[0]["mac"], L.LAN["mac"]
    l_policy = line_of(RULES, lambda l: l.startswith(":FORWARD DROP"))
    l_multi = line_of(RULES, lambda l: "multiport" in l)
    l_drop23 = line_of(RULES, lambda l: "--dport 23 -j DROP" in l)

    _, ports0 = lab.ctl("show", "ports")
    _, rules0 = lab.ctl("show", "rules")
    multi0 = rule_by_line(rules0, l_multi)
    res.check("show rules lists the multiport rule with its location",
              multi0 is not None and "multiport" in multi0["text"], json.dumps(multi0))

    # Traffic.
    res.check("guest->LAN ping works", lab.ping("g0", lanip, expect_reply=True))
    blocked = [(lan, g0, guest, 22), (lan, g0, guest, 25), (lan, g0, guest, 23)]
    outs = L.tcp_exchanges(blocked + [(lan, g0, guest, 80)])
    for (c, o) in zip(blocked, outs):
        res.check(f"LAN->guest tcp/{c[3]} blocked", o[0] == "blocked", f"{o[0]}: {o[1]}")
    res.check("LAN->guest tcp/80 open", outs[3][0] == "ok", f"{outs[3]}")
    stream = L.Stream(lan, g0, guest, 8080)
    try:
        res.check("kept LAN->guest tcp/8080 connection up", stream.up and stream.ping())
        bad_frames = {
            "src_mac_multicast": L.eth(gmac, "01:00:5e:00:00:fb", 0x0800,
                                       L.ipv4(lanip, guest, 17, L.udp(lanip, guest, 5353, 5353, b"m"))),
            "src_mac_zero": L.eth(gmac, "00:00:00:00:00:00", 0x0800,
                                  L.ipv4(lanip, guest, 17, L.udp(lanip, guest, 4000, 4000, b"z"))),
            "link_local_group": L.eth("01:80:c2:00:00:01", lmac, 0x8808,
                                      bytes.fromhex("0001ffff")),
            "ipv4_bad_checksum": L.eth(gmac, lmac, 0x0800,
                                       L.ipv4(lanip, guest, 17, L.udp(lanip, guest, 4001, 4001, b"c"),
                                              bad_checksum=True)),
            "tcp_bad_data_offset": L.eth(gmac, lmac, 0x0800,
                                         L.ipv4(lanip, guest, 6, L.tcp(lanip, guest, 4002, 4002, data_offset=3))),
            # The LAN's own MAC is learned on eth0: a frame to it from eth0 stays there.
            "same_port": L.eth(lmac, "02:00:5e:00:01:99", 0x0800,
                               L.ipv4("192.0.2.99", lanip, 17, L.udp("192.0.2.99", lanip, 4003, 4003, b"s"))),
        }
        L.send_raw(lan, "lan0", list(bad_frames.values()))

        # show drops: wait until the worker has counted every hand-made frame (they are
        # handled asynchronously), then judge the whole answer.
        want = set(bad_frames) | {"chain_policy", "rule_drop"}
        deadline = time.monotonic() + 10
        while True:
            _, drops = lab.ctl("show", "drops")
            if want <= set(drops["by_reason"]) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        br = drops["by_reason"]
        for r in sorted(want - {"chain_policy"}):
            res.check(f"show drops: {r} counted", br.get(r, 0) >= 1, json.dumps(br))
        res.check("show drops: chain_policy >= the 2 blocked attempts (22, 25)",
                  br.get("chain_policy", 0) >= 2, json.dumps(br))
        by_rule = {r["rule"]: r for r in drops.get("by_rule", [])}
        d23 = by_rule.get(f"{RULES}:{l_drop23}")
        res.check("show drops: by_rule has the DROP rule with its count",
                  d23 is not None and d23["packets"] >= 1, json.dumps(drops.get("by_rule")))
        rec = drops.get("recorder", {})
        res.check("show drops: recorder counters present", "recorded" in rec and "queue_full" in rec,
                  json.dumps(rec))

        _, ports1 = lab.ctl("show", "ports")
        for name in ("eth0", "tap0"):
            a, b = port(ports0, name), port(ports1, name)
            grew = all(b[k] > a[k] for k in ("rx_frames", "rx_bytes", "tx_frames", "tx_bytes"))
            res.check(f"show ports: {name} rx/tx frames and bytes increased", grew,
                      " ".join(f"{k} {a[k]}->{b[k]}" for k in ("rx_frames", "rx_bytes", "tx_frames", "tx_bytes")))
        res.check("show ports: rx_truncated present and 0 (no frame was cut short)",
                  all(port(ports1, n).get("rx_truncated") == 0 for n in ("eth0", "tap0")),
                  json.dumps(ports1["ports"]))
        e = port(ports1, "eth0")["drops"]
        res.check("show ports: eth0 drops by reason include chain_policy and rule_drop",
                  e.get("chain_policy", 0) >= 2 and e.get("rule_drop", 0) >= 1, json.dumps(e))

        _, macs = lab.ctl("show", "macs")
        where = {m["mac"]: m["port"] for m in macs["macs"]}
        res.check("show macs: LAN station on eth0", where.get(lmac) == "eth0", str(where))
        res.check("show macs: guest station on tap0", where.get(gmac) == "tap0", str(where))

        _, ct = lab.ctl("show", "conntrack")
        flow = [f for f in ct["conntrack"] if f["proto"] == 6 and f["dport"] == 8080
                and f["src"] == lanip and f["dst"] == guest]
        res.check("show conntrack: LAN->guest :8080 flow ESTABLISHED, reply seen",
                  len(flow) == 1 and flow[0]["state"] == "ESTABLISHED" and flow[0]["seen_reply"],
                  json.dumps(flow))
        summary = ct.get("summary", {})
        res.check(f"show conntrack: summary counts the flows against --ct nf_conntrack_max={CT_MAX}",
                  summary.get("max") == CT_MAX
                  and summary.get("count", 0) >= len(ct["conntrack"]) >= 1
                  and summary.get("inserted", 0) >= summary.get("count", 0),
                  json.dumps(summary))
        # (above 300 s: not the timeout of a flow with unacknowledged data, which is shorter)
        res.check("show conntrack: the flow expires by --ct nf_conntrack_tcp_timeout_established",
                  len(flow) == 1 and 300 < flow[0]["timeout_s"] <= CT_ESTABLISHED_S,
                  json.dumps(flow))

        _, rules1 = lab.ctl("show", "rules")
        multi1 = rule_by_line(rules1, l_multi)
        res.check("show rules: multiport rule counted the :80 connection",
                  multi0 is not None and multi1 is not None and multi1["packets"] > multi0["packets"],
                  f"{multi0 and multi0['packets']} -> {multi1 and multi1['packets']}")
        gen = rules1["generation"]

        rc, dry = lab.ctl("reload", "--dry-run", DRYRUN)
        res.check("reload --dry-run: ok, not applied", rc == 0 and dry.get("ok") and dry.get("applied") is False,
                  json.dumps(dry)[:300])
        hit = [f for f in dry.get("changes", []) if f["flow"]["dport"] == 8080
               and f["flow"]["src"] == lanip and f["flow"]["dst"] == guest]
        cut = hit and any(c["dir"] == "original" and c["old"] == "accept" and c["new"] == "drop"
                          and c["out"] == "tap0" for c in hit[0]["changes"])
        res.check("reload --dry-run: the kept :8080 flow is in changes (accept -> drop toward tap0)",
                  bool(cut), json.dumps(hit)[:400])
        _, r = lab.ctl("show", "rules")
        res.check("reload --dry-run: generation unchanged", r["generation"] == gen,
                  f"{gen} -> {r['generation']}")
        res.check("after dry-run the kept flow still carries data", stream.ping())
        rc, bad = lab.ctl("reload", "--dry-run", BROKEN, check=False)
        res.check("reload --dry-run of a broken file: refused with file:line",
                  rc != 0 and bad is not None and not bad.get("ok") and f"{BROKEN}:11:" in bad.get("error", ""),
                  json.dumps(bad))

        rc, ap = lab.ctl("reload", RULES)
        res.check("reload FILE: applied, generation +1",
                  rc == 0 and ap.get("applied") is True and ap.get("generation") == gen + 1, json.dumps(ap))
        rc, ap2 = lab.ctl("reload")
        res.check("reload (no FILE): applied, generation +1 again",
                  rc == 0 and ap2.get("applied") is True and ap2.get("generation") == gen + 2, json.dumps(ap2))
        _, r = lab.ctl("show", "rules")
        res.check("show rules reports the new generation", r["generation"] == gen + 2, str(r["generation"]))
        res.check("after reloads the kept flow still carries data", stream.ping())

        # trace: stream the path of a matching live frame. The trace starts asynchronously,
        # so matching frames (raw SYNs to guest:22) are sent until the client has its one
        # frame (--count 1) or gives up (--seconds 10).
        tr = subprocess.Popen([lab.tapwall, "ctl", "--control", lab.control, "--json", "trace",
                               "tcp dst port 22", "--count", "1", "--seconds", "10"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        syn = L.eth(gmac, lmac, 0x0800, L.ipv4(lanip, guest, 6, L.tcp(lanip, guest, 40022, 22)))
        while tr.poll() is None:
            L.send_raw(lan, "lan0", [syn])
            try:
                tr.wait(0.2)
            except subprocess.TimeoutExpired:
                pass
        out, err = tr.communicate()
        first = out.splitlines()[0] if out.strip() else ""
        try:
            t = json.loads(first)
        except ValueError:
            t = {}
        tp = (t.get("ports") or [{}])[0]
        res.check("trace: a SYN to guest:22 shown in=eth0 ct=NEW, dropped toward tap0 by "
                  f"chain_policy at {os.path.basename(RULES)}:{l_policy}, with the rules tried",
                  tr.returncode == 0 and t.get("in") == "eth0" and t.get("ct") == "NEW"
                  and tp.get("port") == "tap0" and tp.get("verdict") == "drop"
                  and tp.get("reason") == "chain_policy" and tp.get("rule") == f"{RULES}:{l_policy}"
                  and len(tp.get("tried", [])) >= 2, f"rc={tr.returncode} {first[:400]} {err[:200]}")

        # dump: accepted frames matching a filter are recorded too, until dump stop.
        rc, d1 = lab.ctl("dump", "start", "tcp port 80")
        res.check("dump start: ok", rc == 0 and d1.get("dump") is True, json.dumps(d1))
        o1 = L.tcp_exchange(lan, g0, guest, 80, cport=40080)
        rc, d2 = lab.ctl("dump", "stop")
        res.check("dump stop: ok", rc == 0 and d2.get("dump") is False, json.dumps(d2))
        o2 = L.tcp_exchange(lan, g0, guest, 80, cport=40081)
        res.check("dump: both :80 exchanges ok", o1[0] == "ok" and o2[0] == "ok", f"{o1} {o2}")
    finally:
        stream.close()

    try:
        m = http_get(lab.ns("br"), METRICS_PORT)
    except OSError as e:
        m = f"error {e}"
    res.check("metrics: 200 with per-reason drop counters and the generation",
              m.startswith("HTTP/1.1 200") and
              re.search(r'tapwall_drops_total\{port="eth0",reason="chain_policy"\} \d+', m) is not None
              and re.search(r"tapwall_policy_generation \d+", m) is not None
              and re.search(r'tapwall_rx_truncated_total\{port="eth0"\} 0', m) is not None, m[:200])
    res.check("metrics: conntrack entries and table size per worker",
              re.search(r'tapwall_conntrack_max\{worker="0"\} %d\n' % CT_MAX, m) is not None
              and re.search(r'tapwall_conntrack_entries\{worker="0"\} [1-9]', m) is not None,
              "\n".join(l for l in m.splitlines() if "conntrack" in l))

    rc, problems = lab.stop_tapwall()
    res.check("tapwall exits 0 on SIGTERM, no sanitizer report", rc == 0 and not problems,
              f"rc={rc} {problems}")

    files = sorted(glob.glob(os.path.join(drops_dir, "*.pcapng")))
    res.check("--drops wrote pcapng files", len(files) > 0, str(os.listdir(drops_dir) if os.path.isdir(drops_dir) else None))
    rows, accepts = [], []
    for f in files:
        r = L.run(["tshark", "-r", f, "-T", "fields", "-e", "frame.interface_name", "-e",
                   "tcp.srcport", "-e", "tcp.dstport", "-e", "frame.comment"],
                  check=False, merge_stderr=False)
        for line in r.stdout.splitlines():
            iface, sport, dport, comment = (line.split("\t") + ["", "", ""])[:4]
            for c in comment.split(","):  # several comments are joined with commas
                for cl in c.split("\n"):
                    if cl.startswith("drop "):
                        rows.append((iface, cl))
                    elif cl.startswith("accept "):
                        accepts.append((iface, sport, dport, cl))
    print(f"recorded drop comments: {len(rows)}")
    expect_rule = {"chain_policy": f"{RULES}:{l_policy}", "rule_drop": f"{RULES}:{l_drop23}"}
    for reason in sorted(want):
        rule = expect_rule.get(reason, "-")
        hits = [(i, c) for i, c in rows if f"reason={reason} " in c + " "]
        good = [(i, c) for i, c in hits if i == "eth0" and f" rule={rule} " in c + " " and " in=eth0" in c]
        res.check(f"recorded: {reason} on eth0 with rule={rule}", bool(good),
                  (good or hits or ["none"])[0].__str__()[:300])
    dumped = [a for a in accepts if "40080" in (a[1], a[2])]
    syn80 = [a for a in dumped if a[0] == "eth0" and a[2] == "80" and " to=tap0 " in a[3]
             and " ct=NEW " in a[3] and a[3].endswith(f" rule={RULES}:{l_multi}")]
    # No sync_dataplane() after `dump start` either: its reply must mean recording is on.
    res.check("dump start takes effect before its reply: the :80 SYN recorded as accepted "
              "toward tap0 by the multiport rule",
              bool(syn80), str(dumped[:3])[:400])
    res.check("dump: frames of the :80 exchange recorded both ways",
              any(a[0] == "tap0" and a[1] == "80" for a in dumped), str(dumped)[:400])
    after = [a for a in accepts if "40081" in (a[1], a[2])]
    # No sync_dataplane() between `dump stop` and the second exchange on purpose: the reply
    # to dump stop must mean that recording has stopped.
    res.check("dump stop takes effect before its reply: the next :80 exchange is not recorded",
              not after, str(after[:2]))


if __name__ == "__main__":
    L.main("ctl", body)

