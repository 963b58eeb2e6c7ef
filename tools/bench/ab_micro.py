#!/usr/bin/env python3
"""Side-by-side A/B of two builds of a Google Benchmark binary (e.g. engine_pipeline_bench).

Why: on a shared VM the same binary's rate moves by up to 1.7x between minutes, so figures
from separate runs cannot be compared. This runs A and B alternately, ROUNDS times, one
benchmark at a time, and reports each side's median items/s and the median of the per-round
ratios A/B, which cancels most of the drift, and each side's best round: other tenants only
ever slow a run down, so the best of many rounds is the steadiest estimate of a build's own
speed when the machine is busy for minutes at a time.

Usage: tools/bench/ab_micro.py A_BINARY B_BINARY [--filter REGEX] [--rounds N]
                               [--min-time S] [--json PATH]
Exit status: 0; 1 when a binary fails; 2 on a usage error or when no benchmark under the
filter reports items/s.
"""
import argparse
import json
import statistics
import subprocess
import sys


def run(binary, bench_filter, min_time):
    """One run: {benchmark name: items_per_second}."""
    p = subprocess.run(
        [binary, f"--benchmark_filter={bench_filter}", f"--benchmark_min_time={min_time}",
         "--benchmark_format=json"],
        capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{binary} failed (exit {p.returncode}): {p.stderr.strip()[-500:]}")
    if not p.stdout.strip():  # nothing matched the filter
        return {}
    return {b["name"]: b["items_per_second"] for b in json.loads(p.stdout)["benchmarks"]
            if "items_per_second" in b}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--filter", default="BM_EngineEstablished/(10000|100000)$")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--json", help="write every round's figures here")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    rounds = []
    for r in range(args.rounds):
        # Alternate which side goes first, so neither always gets the warmer minute.
        order = ("a", "b") if r % 2 == 0 else ("b", "a")
        got = {side: run(getattr(args, side), args.filter, args.min_time) for side in order}
        rounds.append(got)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    names = sorted(set(rounds[0]["a"]) & set(rounds[0]["b"]))
    if not names:
        print("no benchmark reported items/s under that filter", file=sys.stderr)
        return 2
    print(f"{'benchmark':44s} {'A M/s':>8s} {'B M/s':>8s} {'A/B paired':>10s} {'(min-max)':>13s}"
          f" {'A best':>7s} {'B best':>7s} {'A/B best':>8s}")
    summary = {}
    for name in names:
        a = [rd["a"][name] for rd in rounds]
        b = [rd["b"][name] for rd in rounds]
        ratios = [x / y for x, y in zip(a, b)]
        summary[name] = {"a_median": statistics.median(a), "b_median": statistics.median(b),
                         "paired_ratio_median": statistics.median(ratios),
                         "a_best": max(a), "b_best": max(b)}
        print(f"{name:44s} {statistics.median(a) / 1e6:8.2f} {statistics.median(b) / 1e6:8.2f} "
              f"{statistics.median(ratios):10.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
              f" {max(a) / 1e6:7.2f} {max(b) / 1e6:7.2f} {max(a) / max(b):8.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"a": args.a, "b": args.b, "filter": args.filter, "rounds": rounds,
                       "summary": summary}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
