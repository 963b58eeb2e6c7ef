#!/usr/bin/env python3
"""Summarises a bridge benchmark run (bridge_bench.py's raw JSON): medians, ratios, table,
JSON and chart.

Purpose: turn the raw per-trial figures into what DESIGN.md §4 asks for: each
configuration's median over the repeats, its ratio to the kernel reference (br0 +
br_netfilter + the seed's iptables) and to the no-filter tapwall baseline (the userspace
ceiling), printed as one table, written as JSON (raw runs kept beside the summary) and
drawn as bar charts with the ratios written on the bars.

Figures (one per row of the table; "higher" or "lower" is better):
  udp1_kpps       64-byte UDP frames/s delivered to the guest, one flow (higher)
  udp10k_kpps     the same over FLOWS flows (source ports) (higher)
  drop_kpps       frames/s the bridge took in on eth0 and dropped (UDP to port 53) (higher)
  drop_ns_frame   bridge CPU per dropped frame: kernel = softirq time, tapwall = its process
                  CPU time (user+sys); divided by frames processed (lower)
  drop_cores      that CPU, in cores (lower, but read it with drop_kpps)
  tcp_off_gbps    iperf3 guest -> LAN, offloads off (higher)
  tcp_on_gbps     the same, offloads on (higher)
  ping_idle_p50/p99_ms, ping_load_p50/p99_ms   round trip guest -> LAN (lower)

usage: bridge_report.py RAW.json --json OUT.json [--png OUT.png]
"""
import argparse
import json
import statistics
import sys

CONFIG_LABEL = {"kernel": "kernel br0+nf", "nofilter": "tapwall no-filter",
                "afpacket": "tapwall afpacket", "pcap": "tapwall pcap"}

# key, label, unit, better, (test, field, scale)
METRICS = [
    ("udp1_kpps", "UDP 64B 1 flow, delivered", "kpps", "higher", ("udp1", "delivered_pps", 1e-3)),
    ("udp10k_kpps", "UDP 64B 10k flows, delivered", "kpps", "higher", ("udp10k", "delivered_pps", 1e-3)),
    ("drop_kpps", "drop path (udp/53), processed", "kpps", "higher", ("drop53", "processed_pps", 1e-3)),
    ("drop_cores", "drop path, bridge CPU", "cores", "lower", ("drop53", "bridge_cores", 1.0)),
    ("drop_ns_frame", "drop path, bridge CPU per frame", "ns", "lower", ("drop53", "ns_per_frame", 1.0)),
    ("tcp_off_gbps", "TCP guest->LAN, offloads off", "Gbit/s", "higher", ("tcp_off", "gbps", 1.0)),
    ("tcp_on_gbps", "TCP guest->LAN, offloads on", "Gbit/s", "higher", ("tcp_on", "gbps", 1.0)),
    ("ping_idle_p50_ms", "ping idle p50", "ms", "lower", ("ping_idle", "p50_ms", 1.0)),
    ("ping_idle_p99_ms", "ping idle p99", "ms", "lower", ("ping_idle", "p99_ms", 1.0)),
    ("ping_load_p50_ms", "ping under iperf3 load p50", "ms", "lower", ("ping_load", "p50_ms", 1.0)),
    ("ping_load_p99_ms", "ping under iperf3 load p99", "ms", "lower", ("ping_load", "p99_ms", 1.0)),
]

# Context figures kept in the JSON (medians), not in the table.
CONTEXT = [("udp1", "offered_pps"), ("udp1", "tapwall_cores"), ("udp1", "softirq_cores"),
           ("udp1", "tw_eth0_ring_drops_pps"), ("udp1", "tap0_tx_drop_pps"),
           ("udp10k", "offered_pps"), ("udp10k", "tapwall_cores"), ("udp10k", "softirq_cores"),
           ("udp10k", "tw_eth0_ring_drops_pps"),
           ("drop53", "offered_pps"), ("drop53", "delivered_pps"), ("drop53", "softirq_cores"),
           ("drop53", "tapwall_cores"), ("drop53", "tw_eth0_ring_drops_pps"), ("drop53", "eth0_rx_pps"),
           ("tcp_off", "retransmits"), ("tcp_on", "retransmits"), ("tcp_off", "tapwall_cores"),
           ("tcp_on", "tapwall_cores"), ("ping_idle", "loss"), ("ping_load", "loss")]


def derive(run):
    """Adds the figures computed from several raw fields."""
    if run.get("test") != "drop53":
        return run
    kernel = run["config"] == "kernel"
    processed = run.get("eth0_rx_pps") if kernel else run.get("tw_eth0_rx_pps")
    cores = run.get("softirq_cores") if kernel else run.get("tapwall_cores")
    run["processed_pps"] = processed
    run["bridge_cores"] = cores
    if processed and cores is not None:
        run["ns_per_frame"] = cores / processed * 1e9
        # tapwall also makes the kernel work (softirq feeding the AF_PACKET/pcap socket)
        if not kernel and run.get("softirq_cores") is not None:
            run["ns_per_frame_incl_softirq"] = (cores + run["softirq_cores"]) / processed * 1e9
    return run


def values(runs, cfg, test, field, scale):
    out = []
    for r in runs:
        if r.get("config") == cfg and r.get("test") == test and isinstance(r.get(field), (int, float)):
            out.append(r[field] * scale)
    return out


def summarise(raw):
    runs = [derive(dict(r)) for r in raw["runs"]]
    configs = raw["params"]["configs"]
    summary = {}
    for key, label, unit, better, (test, field, scale) in METRICS:
        row = {"label": label, "unit": unit, "better": better, "by_config": {}}
        for cfg in configs:
            v = values(runs, cfg, test, field, scale)
            row["by_config"][cfg] = {"median": statistics.median(v) if v else None,
                                     "min": min(v) if v else None, "max": max(v) if v else None, "n": len(v)}
        base_k = row["by_config"].get("kernel", {}).get("median")
        base_n = row["by_config"].get("nofilter", {}).get("median")
        for cfg, c in row["by_config"].items():
            m = c["median"]
            c["vs_kernel"] = m / base_k if m is not None and base_k else None
            c["vs_nofilter"] = m / base_n if m is not None and base_n else None
        summary[key] = row
    context = {}
    for test, field in CONTEXT + [("drop53", "ns_per_frame_incl_softirq")]:
        for cfg in configs:
            v = values(runs, cfg, test, field, 1.0)
            if v:
                context.setdefault(f"{test}.{field}", {})[cfg] = statistics.median(v)
    # Paired ratios: the ratio in each repeat, then the median of those (robust to drift).
    paired = {}
    for key, label, unit, better, (test, field, scale) in METRICS:
        for cfg in configs:
            if cfg == "kernel":
                continue
            rs = []
            for rep in sorted({r["rep"] for r in runs if "rep" in r}):
                k = [r[field] for r in runs if r.get("config") == "kernel" and r.get("rep") == rep
                     and r.get("test") == test and isinstance(r.get(field), (int, float))]
                t = [r[field] for r in runs if r.get("config") == cfg and r.get("rep") == rep
                     and r.get("test") == test and isinstance(r.get(field), (int, float))]
                if k and t and k[0]:
                    rs.append(t[0] / k[0])
            if rs:
                paired.setdefault(key, {})[cfg] = statistics.median(rs)
    return summary, context, paired, runs


def fmt(v, unit):
    if v is None:
        return "-"
    if unit in ("kpps", "ns"):
        return f"{v:.0f}" if v >= 100 else f"{v:.1f}"
    if unit == "ms":
        return f"{v:.3f}"
    return f"{v:.2f}"


def table(summary, configs):
    lines = []
    head = f"{'figure':34s} {'unit':7s}"
    for cfg in configs:
        head += f" {CONFIG_LABEL.get(cfg, cfg):>24s}"
    lines.append(head)
    lines.append("-" * len(head))
    for key, row in summary.items():
        s = f"{row['label']:34s} {row['unit']:7s}"
        for cfg in configs:
            c = row["by_config"][cfg]
            cell = fmt(c["median"], row["unit"])
            if cfg != "kernel" and c["vs_kernel"] is not None:
                cell += f" {c['vs_kernel']:.2f}xK"
            if cfg not in ("kernel", "nofilter") and c["vs_nofilter"] is not None:
                cell += f" {c['vs_nofilter']:.2f}xNF"
            s += f" {cell:>24s}"
        lines.append(s)
    lines.append("medians over repeats; xK = ratio to the kernel reference, xNF = ratio to tapwall "
                 "--no-filter (ratio > 1 is better for rates, worse for CPU and latency)")
    return "\n".join(lines)


def chart(summary, configs, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = list(summary)
    ncol = 4
    nrow = (len(keys) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.4 * nrow))
    colors = {"kernel": "#555555", "nofilter": "#8fb3d9", "afpacket": "#2f6db5", "pcap": "#e08a2c"}
    for ax, key in zip(axes.flat, keys):
        row = summary[key]
        xs, meds, lo, hi = [], [], [], []
        for cfg in configs:
            c = row["by_config"][cfg]
            m = c["median"] if c["median"] is not None else 0.0
            xs.append(cfg)
            meds.append(m)
            lo.append(m - (c["min"] if c["min"] is not None else m))
            hi.append((c["max"] if c["max"] is not None else m) - m)
        bars = ax.bar(range(len(xs)), meds, yerr=[lo, hi], capsize=3,
                      color=[colors.get(c, "#999999") for c in xs])
        for i, (b, cfg) in enumerate(zip(bars, xs)):
            c = row["by_config"][cfg]
            txt = fmt(c["median"], row["unit"])
            if cfg != "kernel" and c["vs_kernel"] is not None:
                txt += f"\n{c['vs_kernel']:.2f}xK"
            ax.annotate(txt, (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom",
                        fontsize=7, xytext=(0, 2), textcoords="offset points",
                        bbox=dict(facecolor="white", alpha=0.75, lw=0, pad=1))
        ax.set_xticks(range(len(xs)))
        ax.set_xticklabels([CONFIG_LABEL.get(c, c).replace("tapwall ", "tw ") for c in xs], fontsize=7, rotation=15)
        ax.set_title(f"{row['label']}\n({row['unit']}, {row['better']} is better)", fontsize=8)
        ax.set_ylim(0, max(meds + [1e-9]) * 1.35 + max(hi + [0]))
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("raw")
    ap.add_argument("--json", required=True)
    ap.add_argument("--png")
    a = ap.parse_args()
    with open(a.raw) as f:
        raw = json.load(f)
    configs = raw["params"]["configs"]
    summary, context, paired, runs = summarise(raw)
    out = {"machine": raw["machine"], "params": raw["params"], "summary": summary,
           "paired_ratio_to_kernel": paired, "context_medians": context,
           "problems": raw["problems"], "runs": runs}
    with open(a.json, "w") as f:
        json.dump(out, f, indent=1)
    m = raw["machine"]
    p = raw["params"]
    print(f"tapwall live bridge benchmark ({p['mode']}: {p['repeats']} repeat(s), {p['duration_s']} s windows, "
          f"{p['flows']} flows, {p['pings']} pings)")
    print(f"machine: {m['nproc']} CPUs, {m['cpu_model']}, kernel {m['kernel']}, load {' '.join(m['loadavg_start'])}"
          f" -> {' '.join(m.get('loadavg_end', []))}")
    print(table(summary, configs))
    if paired:
        print("paired ratio to kernel (median of per-repeat ratios): " + "; ".join(
            f"{k}: " + ", ".join(f"{c} {v:.2f}" for c, v in d.items()) for k, d in paired.items()
            if k in ("udp1_kpps", "udp10k_kpps", "drop_kpps", "tcp_off_gbps", "tcp_on_gbps")))
    ctx_lines = [("udp1.offered_pps", "UDP 1 flow offered by trafgen (kpps)", 1e-3),
                 ("udp1.tw_eth0_ring_drops_pps", "UDP 1 flow lost in tapwall's eth0 RX ring (kpps)", 1e-3),
                 ("udp1.tapwall_cores", "UDP 1 flow tapwall CPU (cores)", 1.0),
                 ("udp1.softirq_cores", "UDP 1 flow softirq CPU (cores)", 1.0),
                 ("drop53.ns_per_frame_incl_softirq", "drop path tapwall+softirq CPU per frame (ns)", 1.0),
                 ("tcp_on.retransmits", "TCP offloads on, sender retransmits", 1.0)]
    print("context (medians):")
    for key, label, scale in ctx_lines:
        d = context.get(key)
        if d:
            print(f"  {label:50s} " + "  ".join(f"{c} {v * scale:.2f}" if v * scale < 100 else f"{c} {v * scale:.0f}"
                                                  for c, v in d.items()))
    if raw["problems"]:
        print(f"problems ({len(raw['problems'])}):")
        for pr in raw["problems"]:
            print(f"  - {pr.get('trial', '')}: {pr['what']}")
    print(f"JSON: {a.json}")
    if a.png:
        try:
            chart(summary, configs, a.png, f"tapwall vs kernel br0+br_netfilter ({m['nproc']} CPUs, {m['kernel']}, "
                                           f"{p['mode']}, medians of {p['repeats']})")
            print(f"chart: {a.png}")
        except ImportError as e:
            print(f"chart: skipped ({e}); install python3-matplotlib", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
