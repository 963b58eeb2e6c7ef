#!/bin/bash
# record.sh - record GOLDEN DATA from the real kernel bridge (br0 + br_netfilter + iptables).
#
# Builds the seed topology in private network namespaces, loads an iptables-save file,
# captures every bridge port in both directions with tcpdump (ingress = what entered the
# bridge from that port, egress = what the bridge sent out of it), runs a scripted
# traffic scenario, and derives for every ingress frame the list of ports the kernel
# delivered it to (derive.py).  The kernel is the oracle; nothing here knows tapwall.
#
# usage: record.sh <case> <outdir>      case: seed_stateless | seed_stateful | multi_vm |
#                                              ct_sysctls | random_mix | random_rules |
#                                              random_multi | random_reject | random_timeouts |
#                                              random_vlan | random_iprange | random_iface |
#                                              random_limit | random_length | random_pkttype
#        record.sh seed_rules <file>    the seed policy as real `iptables-save -t filter`
#        record.sh all [<golden dir>]   everything, into tests/golden/ by default
#
# Invariants:
#  - all namespaces are named twg<PID>-*, all traffic stays inside them and uses
#    documentation addresses only; everything created is removed by the EXIT trap,
#    processes are killed by PID only (those we started, or those inside our namespaces);
#  - br0 and its ports have IPv6 disabled and no IP address, so the bridge host emits
#    nothing by itself: every egress frame must come from some ingress frame;
#  - hosts use fixed MACs and static IPv4 neighbours (no ARP noise), no DAD and no
#    router solicitations; captures start only after the link-up chatter has settled.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-/usr/bin/python3}          # Debian's python3 has python3-scapy
# iptables backend: "nft" (Debian 12's default `iptables`) or "legacy"; the recorded
# verdicts can differ between them for malformed frames (see tools/golden/README.md)
IPT_BACKEND=${IPT_BACKEND:-nft}
IPT=iptables-$IPT_BACKEND IP6T=ip6tables-$IPT_BACKEND
P="twg$$"                               # namespace prefix unique to this run
NS_BR="$P-br" NS_LAN="$P-lan" NS_G0="$P-g0" NS_G1="$P-g1"
TMP=""
CAP_PIDS=()
SCEN_PID=""
# bridge-nf-filter-vlan-tagged: 0 (the default: tagged IP bypasses iptables), 1 for
# random_vlan and tagged random traffic, so that the kernel filters IP inside one VLAN tag
# as tapwall always does
FILTER_VLAN_TAGGED=0
# ct_sysctls: conntrack settings other than the defaults, set in the bridge's namespace
# (these are per namespace) and written to case.json for the replay (`tapwall --ct`)
CT_SYSCTLS="nf_conntrack_tcp_loose=0 nf_conntrack_tcp_be_liberal=1 nf_conntrack_checksum=0
            nf_conntrack_udp_timeout=3"
# random_timeouts: every conntrack timeout cut to seconds, so that random_mix's pauses
# let flows expire in every state
SHORT_TIMEOUTS="nf_conntrack_tcp_timeout_syn_sent=2 nf_conntrack_tcp_timeout_syn_recv=2
  nf_conntrack_tcp_timeout_established=4 nf_conntrack_tcp_timeout_fin_wait=2
  nf_conntrack_tcp_timeout_close_wait=2 nf_conntrack_tcp_timeout_last_ack=2
  nf_conntrack_tcp_timeout_time_wait=2 nf_conntrack_tcp_timeout_close=1
  nf_conntrack_tcp_timeout_max_retrans=3 nf_conntrack_tcp_timeout_unacknowledged=3
  nf_conntrack_udp_timeout=2 nf_conntrack_udp_timeout_stream=4 nf_conntrack_icmp_timeout=2
  nf_conntrack_icmpv6_timeout=2"

log() { echo "[record] $*" >&2; }

cleanup() {
  local rc=$?
  set +e
  [ -n "$SCEN_PID" ] && kill -TERM "$SCEN_PID" 2>/dev/null
  for pid in "${CAP_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for ns in "$NS_BR" "$NS_LAN" "$NS_G0" "$NS_G1" "$P-rules"; do
    if [ -e "/run/netns/$ns" ]; then
      # anything still running inside one of OUR namespaces was started by us
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
      ip netns del "$ns" 2>/dev/null
    fi
  done
  [ -n "$TMP" ] && [ -d "$TMP" ] && [ -z "${KEEP_TMP:-}" ] && rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# --- the seed policy as real iptables-save output ------------------------------------
seed_rules() {   # $1 = output file
  ip netns add "$P-rules"
  # the script calls plain `iptables`: put the chosen backend first in PATH
  [ -n "$TMP" ] || TMP=$(mktemp -d /tmp/twg-golden.XXXXXX)
  mkdir -p "$TMP/bin"
  ln -sf "$(command -v $IPT)" "$TMP/bin/iptables"
  nsx "$P-rules" env PATH="$TMP/bin:$PATH" sh "$HERE/seed-firewall.sh"
  # iptables-save stamps dates into '#' comment lines: drop them for reproducibility
  nsx "$P-rules" $IPT-save -t filter | grep -v '^#' > "$1"
  ip netns del "$P-rules"
}

# --- topology --------------------------------------------------------------------------
# mac_of <ifname>: the fixed MACs (kept in sync with twg_net.MAC)
mac_of() {
  case $1 in
    lan0) echo 02:00:00:00:01:01;; gst0) echo 02:00:00:00:02:02;; gst1) echo 02:00:00:00:02:03;;
    eth0) echo 02:00:00:00:0b:01;; tap0) echo 02:00:00:00:0b:02;; tap1) echo 02:00:00:00:0b:03;;
    br0) echo 02:00:00:00:0b:ff;;
  esac
}

host_ns_setup() {   # quiet IPv6 defaults for a host namespace, before links exist
  local ns=$1
  ip netns add "$ns"
  nsx "$ns" ip link set lo up
  for k in default all; do
    nsx "$ns" sysctl -qw net.ipv6.conf.$k.accept_dad=0 \
      net.ipv6.conf.$k.router_solicitations=0 net.ipv6.conf.$k.accept_ra=0
  done
}

# add_port <bridge-port> <host-if> <host-ns> <ipv4> <ipv6> [extra ipv4 ...]
add_port() {
  local port=$1 hif=$2 hns=$3 a4=$4 a6=$5; shift 5
  ip link add "$port" netns "$NS_BR" type veth peer name "$hif" netns "$hns"
  nsx "$NS_BR" ip link set "$port" address "$(mac_of "$port")"
  nsx "$hns" ip link set "$hif" address "$(mac_of "$hif")"
  # the bridge host must never speak IPv6 itself (no ND/MLD/RS from the ports)
  nsx "$NS_BR" sysctl -qw net.ipv6.conf.$port.disable_ipv6=1
  nsx "$NS_BR" ip link set "$port" addrgenmode none
  nsx "$hns" ip addr add "$a4/24" dev "$hif"
  local extra
  for extra in "$@"; do nsx "$hns" ip addr add "$extra" dev "$hif"; done
  nsx "$hns" ip -6 addr add "$a6/64" dev "$hif" nodad
  # offloads off: frames are MTU-sized with finished checksums in the captures
  nsx "$NS_BR" ethtool -K "$port" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  nsx "$hns" ethtool -K "$hif" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  nsx "$NS_BR" ip link set "$port" master br0
  nsx "$NS_BR" ip link set "$port" up
  nsx "$hns" ip link set "$hif" up
}

build_topology() {   # $1 = number of guests (1 or 2)
  ip netns add "$NS_BR"
  nsx "$NS_BR" ip link set lo up
  nsx "$NS_BR" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
  nsx "$NS_BR" ip link add br0 type bridge stp_state 0
  nsx "$NS_BR" ip link set br0 address "$(mac_of br0)"
  nsx "$NS_BR" sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
  nsx "$NS_BR" ip link set br0 addrgenmode none
  # br_netfilter: built in here (the sysctls exist); a module elsewhere
  [ -e /proc/sys/net/bridge ] || modprobe br_netfilter 2>/dev/null || true
  nsx "$NS_BR" sysctl -qw net.bridge.bridge-nf-call-iptables=1 \
    net.bridge.bridge-nf-call-ip6tables=1 net.bridge.bridge-nf-filter-vlan-tagged=$FILTER_VLAN_TAGGED
  host_ns_setup "$NS_LAN"; host_ns_setup "$NS_G0"
  add_port eth0 lan0 "$NS_LAN" 192.0.2.1 2001:db8::1 198.51.100.1/24
  add_port tap0 gst0 "$NS_G0" 192.0.2.2 2001:db8::2
  if [ "$1" -ge 2 ]; then
    host_ns_setup "$NS_G1"
    add_port tap1 gst1 "$NS_G1" 192.0.2.3 2001:db8::3
  fi
  nsx "$NS_BR" ip link set br0 up
  # static IPv4 neighbours: hosts never ARP by themselves, ARP frames in the captures
  # are the ones the scenario crafted on purpose (IPv6 ND is left dynamic on purpose)
  local h ns ip mac
  for h in "lan0:$NS_LAN" "gst0:$NS_G0" "gst1:$NS_G1"; do
    ns=${h#*:}; [ -e "/run/netns/$ns" ] || continue
    for ip in lan0:192.0.2.1 gst0:192.0.2.2 gst1:192.0.2.3; do
      [ "${ip%%:*}" = "${h%%:*}" ] && continue
      mac=$(mac_of "${ip%%:*}")
      nsx "$ns" ip neigh replace "${ip#*:}" lladdr "$mac" dev "${h%%:*}" nud permanent
    done
  done
}

quiet_hosts() {   # hosts accept nothing: only crafted frames appear (stateless case)
  local ns
  for ns in "$NS_LAN" "$NS_G0" "$NS_G1"; do
    [ -e "/run/netns/$ns" ] || continue
    nsx "$ns" iptables -P INPUT DROP
    nsx "$ns" ip6tables -P INPUT DROP
  done
}

start_captures() {   # $@ = ports
  local port dir
  for port in "$@"; do
    for dir in in out; do
      # -Z root: keep root so the file can be written; -U: flush per packet
      # started directly (not through a shell function) so $! is tcpdump itself
      # (ip netns exec execs it); background jobs of a script ignore SIGINT, so it is
      # stopped with SIGTERM, which tcpdump also handles by flushing and exiting
      ip netns exec "$NS_BR" tcpdump -i "$port" -Q "$dir" -s 0 -U -nn -Z root \
        --time-stamp-precision=nano -w "$TMP/$dir-$port.pcap" 2>"$TMP/td-$dir-$port.err" &
      CAP_PIDS+=($!)
    done
  done
  local i f ok
  for i in $(seq 100); do
    ok=1
    for f in "$TMP"/td-*.err; do grep -q "listening on" "$f" || ok=0; done
    [ $ok = 1 ] && break
    sleep 0.1
  done
  [ $ok = 1 ] || { cat "$TMP"/td-*.err >&2; log "tcpdump did not start"; return 1; }
  sleep 0.3
}

stop_captures() {
  sleep 1                                  # let in-flight frames and reassembly finish
  # silence the hosts first (their timers, e.g. IPv6 NUD probes, fire at any time): a
  # frame entering while the captures stop could be seen leaving but not entering
  local h
  for h in "lan0:$NS_LAN" "gst0:$NS_G0" "gst1:$NS_G1"; do
    [ -e "/run/netns/${h#*:}" ] && nsx "${h#*:}" ip link set "${h%%:*}" down
  done
  sleep 0.3
  local pid
  for pid in "${CAP_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${CAP_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  CAP_PIDS=()
  if grep -h "dropped by kernel" "$TMP"/td-*.err | grep -vq "^0 packets"; then
    grep -h "dropped by kernel" "$TMP"/td-*.err >&2
    log "tcpdump dropped packets: capture is not trustworthy"; return 1
  fi
}

# --- one case --------------------------------------------------------------------------
record_case() {   # $1 = case, $2 = outdir
  local case=$1 out=$2 guests=1 ports rules4 rules6=""
  case $case in
    seed_stateless|seed_stateful|ct_sysctls|random_mix|random_rules|random_reject|random_timeouts|random_iprange|random_iface|random_limit|random_length) guests=1 ;;
    multi_vm|random_multi|random_vlan|random_pkttype) guests=2 ;;
    *) log "unknown case $case"; exit 2 ;;
  esac
  TMP=$(mktemp -d /tmp/twg-golden.XXXXXX)
  if [ $guests = 2 ]; then ports="eth0 tap0 tap1"; else ports="eth0 tap0"; fi
  case $case in
    seed_*|ct_sysctls) seed_rules "$TMP/rules.v4" ;;
    random_mix|random_timeouts) cp "$HERE/rules/random_mix.v4" "$TMP/rules.v4"
                cp "$HERE/rules/random_mix.v6" "$TMP/rules.v6" ;;
    random_rules|random_multi|random_reject|random_vlan|random_iprange|random_iface|random_limit|random_length|random_pkttype)
      # RANDOM_RULES_SEED:
      # which ruleset (the traffic: random_mix's); RANDOM_RULES_REJECT=1: most of its DROP
      # targets become REJECT (random_rules.py --reject), as they always do in random_reject;
      # RANDOM_RULES_IPRANGE=1: some rules get -m iprange, as they always do in random_iprange;
      # RANDOM_RULES_IFACE=1: some get -i / -o, as they always do in random_iface;
      # RANDOM_RULES_LIMIT=1: some get -m limit, as they always do in random_limit;
      # RANDOM_RULES_LENGTH=1: some get -m length, as they always do in random_length;
      # RANDOM_RULES_PKTTYPE=1: some get -m pkttype, as they always do in random_pkttype
      local rp="eth0,tap0" rs=${RANDOM_RULES_SEED:-1} rj=()
      [ $case = random_multi ] && { rp="eth0,tap0,tap1"; rs=${RANDOM_RULES_SEED:-2}; }
      [ $case = random_vlan ] && { rp="eth0,tap0,tap1"; rs=${RANDOM_RULES_SEED:-911}; }
      [ $case = random_reject ] && { rs=${RANDOM_RULES_SEED:-801}; rj=(--reject); }
      [ $case = random_iprange ] && { rs=${RANDOM_RULES_SEED:-1030}; rj+=(--iprange); }
      [ "${RANDOM_RULES_REJECT:-0}" = 1 ] && rj+=(--reject)
      [ "${RANDOM_RULES_IPRANGE:-0}" = 1 ] && [ $case != random_iprange ] && rj+=(--iprange)
      [ $case = random_iface ] && { rs=${RANDOM_RULES_SEED:-1253}; rj+=(--iface); }
      [ "${RANDOM_RULES_IFACE:-0}" = 1 ] && [ $case != random_iface ] && rj+=(--iface)
      [ $case = random_limit ] && { rs=${RANDOM_RULES_SEED:-1402}; rj+=(--limit); }
      [ "${RANDOM_RULES_LIMIT:-0}" = 1 ] && [ $case != random_limit ] && rj+=(--limit)
      [ $case = random_length ] && { rs=${RANDOM_RULES_SEED:-1507}; rj+=(--length); }
      [ "${RANDOM_RULES_LENGTH:-0}" = 1 ] && [ $case != random_length ] && rj+=(--length)
      # two guests: only then does random_mix's traffic flood (broadcast, multicast)
      [ $case = random_pkttype ] && { rp="eth0,tap0,tap1"; rs=${RANDOM_RULES_SEED:-1601}; rj+=(--pkttype); }
      [ "${RANDOM_RULES_PKTTYPE:-0}" = 1 ] && [ $case != random_pkttype ] && rj+=(--pkttype)
      "$PY" "$HERE/random_rules.py" --seed "$rs" --family 4 --ports $rp "${rj[@]}" > "$TMP/rules.v4"
      "$PY" "$HERE/random_rules.py" --seed "$rs" --family 6 --ports $rp "${rj[@]}" > "$TMP/rules.v6" ;;
    multi_vm) cp "$HERE/rules/multi_vm.v4" "$TMP/rules.v4"
              cp "$HERE/rules/multi_vm.v6" "$TMP/rules.v6" ;;
  esac
  # tagged random traffic (RANDOM_MIX_VLAN) is only worth comparing where the kernel
  # looks inside the tags
  if [ $case = random_vlan ] || [[ $case = random_* && "${RANDOM_MIX_VLAN:-0}" != 0 ]]; then
    FILTER_VLAN_TAGGED=1
  fi
  log "$case: topology ($ports)"
  build_topology $guests
  nsx "$NS_BR" $IPT-restore < "$TMP/rules.v4"
  [ -f "$TMP/rules.v6" ] && nsx "$NS_BR" $IP6T-restore < "$TMP/rules.v6"
  case $case in seed_stateless|ct_sysctls|random_*) quiet_hosts ;; esac
  : > "$TMP/ct_sysctls"
  # RANDOM_CT_SYSCTLS: settings for a random case (e.g. short timeouts, with
  # RANDOM_MIX_PAUSES so that flows go idle long enough to expire)
  local sysctls=""
  case $case in
    ct_sysctls) sysctls=$CT_SYSCTLS ;;
    random_timeouts) sysctls=${RANDOM_CT_SYSCTLS:-$SHORT_TIMEOUTS} ;;
    random_*) sysctls=${RANDOM_CT_SYSCTLS:-} ;;
  esac
  if [ -n "$sysctls" ]; then
    local kv
    for kv in $sysctls; do
      nsx "$NS_BR" sysctl -qw "net.netfilter.$kv"
      echo "$kv" >> "$TMP/ct_sysctls"
    done
  fi
  sleep 2.5                                # let link-up MLD reports pass before capturing
  # zero the rule counters, so that they count what the captures hold (nothing is sent
  # between here and the scenario's start; the link-up chatter above had been counted)
  nsx "$NS_BR" $IPT -t filter -Z
  [ -f "$TMP/rules.v6" ] && nsx "$NS_BR" $IP6T -t filter -Z
  start_captures $ports
  log "$case: running scenario"
  local hosts="lan0=$NS_LAN,gst0=$NS_G0"
  [ $guests = 2 ] && hosts="$hosts,gst1=$NS_G1"
  # in the background, polled with short sleeps: bash defers traps while a foreground
  # child runs (and a plain `wait` was seen to miss a SIGTERM), so a signal to
  # record.sh is handled within 0.2 s and cleanup kills the scenario by PID
  "$PY" "$HERE/scenario.py" "$case" --hosts "$hosts" --steps "$TMP/steps.jsonl" &
  SCEN_PID=$!
  while kill -0 "$SCEN_PID" 2>/dev/null; do sleep 0.2; done
  wait "$SCEN_PID"        # its exit status (set -e: a failed scenario fails the run)
  SCEN_PID=""
  stop_captures
  # the rule counters of the captured traffic: the replay check compares tapwall's with them
  nsx "$NS_BR" $IPT-save -c -t filter | grep -v '^#' > "$TMP/counters.v4"
  [ -f "$TMP/rules.v6" ] && nsx "$NS_BR" $IP6T-save -c -t filter | grep -v '^#' > "$TMP/counters.v6"
  log "$case: deriving expected verdicts"
  mkdir -p "$out"
  "$PY" "$HERE/derive.py" --case "$case" --tmp "$TMP" --ports "${ports// /,}" --out "$out" \
    --kernel "$(uname -r)" --iptables "$($IPT -V)" --filter-vlan-tagged $FILTER_VLAN_TAGGED
  log "$case: written to $out"
}

main() {
  [ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
  case ${1:-} in
    seed_rules) seed_rules "${2:?output file}" ;;
    all)
      local g=${2:-$REPO/tests/golden} c
      mkdir -p "$g"
      seed_rules "$g/seed_rules.v4"
      for c in seed_stateless seed_stateful multi_vm ct_sysctls random_mix random_rules random_multi \
               random_reject random_timeouts random_vlan random_iprange random_iface random_limit random_length random_pkttype; do
        # each case in its own process: fresh namespaces, fresh conntrack
        "$0" "$c" "$g/$c"
      done ;;
    seed_stateless|seed_stateful|multi_vm|ct_sysctls|random_mix|random_rules|random_multi|random_reject|random_timeouts|random_vlan|random_iprange|random_iface|random_limit|random_length|random_pkttype)
      record_case "$1" "${2:?output dir}" ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
  esac
}
main "$@"
