#!/bin/busybox sh
# /init of the VM test's guest (packed by tools/vm/build-guest.sh with busybox-static, twgen
# and the virtio modules). It brings up the virtio NIC, runs the role named on the kernel
# command line, reports on the serial console and powers off.
#
# Console protocol: every result is one line "@@TW <word> [key=value ...]"; the host driver
# (tests/vm/test_vm_guest.py) parses only those lines, so kernel messages may interleave.
# Kernel command line keys (all optional except where the role needs them):
#   tw.role=transfer|idle   tw.ip=192.0.2.2/24   tw.peer=192.0.2.1
#   tw.txport=5001 (guest -> peer)   tw.rxport=8080 (peer -> guest, guest listens)
#   tw.size=2097152   tw.seed=1 (twgen seed of the data the guest sends)
#   tw.timeout=90 (seconds each transfer may take before the guest gives up)
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mknod -m 600 /dev/console c 5 1

say() { echo "@@TW $*"; }
finish() {
  say "poweroff $*"
  sync
  poweroff -f
  sleep 5
  echo o > /proc/sysrq-trigger
}

ROLE=idle IP=192.0.2.2/24 PEER=192.0.2.1 TXPORT=5001 RXPORT=8080 SIZE=2097152 SEED=1 TMO=90
for kv in $(cat /proc/cmdline); do
  case "$kv" in
    tw.role=*) ROLE=${kv#*=} ;;
    tw.ip=*) IP=${kv#*=} ;;
    tw.peer=*) PEER=${kv#*=} ;;
    tw.txport=*) TXPORT=${kv#*=} ;;
    tw.rxport=*) RXPORT=${kv#*=} ;;
    tw.size=*) SIZE=${kv#*=} ;;
    tw.seed=*) SEED=${kv#*=} ;;
    tw.timeout=*) TMO=${kv#*=} ;;
  esac
done
say "boot kernel=$(uname -r) role=$ROLE"

# Modules in dependency order; one that is built into this kernel has no .ko here.
for m in $(cat /lib/modules/order); do
  if [ -f /lib/modules/$m.ko ]; then
    insmod /lib/modules/$m.ko 2>/tmp/insmod.err || say "module $m insmod-failed $(cat /tmp/insmod.err)"
  else
    say "module $m absent (built in?)"
  fi
done

n=0
while [ ! -e /sys/class/net/eth0 ]; do
  n=$((n + 1))
  [ $n -gt 100 ] && { say "fail no-eth0 $(ls /sys/class/net | tr '\n' ' ')"; finish; }
  sleep 0.1
done
ip link set lo up
ip link set eth0 up
ip addr add "$IP" dev eth0
say "net eth0 mac=$(cat /sys/class/net/eth0/address) mtu=$(cat /sys/class/net/eth0/mtu) ip=$IP driver=$(basename "$(readlink /sys/class/net/eth0/device/driver)")"

# Busybox has no ethtool: the negotiated virtio feature bits say whether TSO/csum offload
# are on (bit 0 CSUM, 1 GUEST_CSUM, 7 GUEST_TSO4, 11 HOST_TSO4).
for f in /sys/class/net/eth0/device/features /sys/bus/virtio/devices/virtio*/features; do
  [ -f "$f" ] && { say "virtio-features $f $(cat "$f")"; break; }
done

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# bounded IN CMD...: runs CMD with stdin from IN in the background (an asynchronous command's
# stdin would otherwise be /dev/null) and waits at most $TMO seconds; returns its status or 124.
bounded() {
  bin=$1
  shift
  "$@" < "$bin" &
  bpid=$!
  t=0
  while kill -0 $bpid 2>/dev/null; do
    t=$((t + 1))
    if [ $t -gt $((TMO * 5)) ]; then kill $bpid 2>/dev/null; wait $bpid 2>/dev/null; return 124; fi
    sleep 0.2
  done
  wait $bpid
}

case "$ROLE" in
  idle)
    say ready
    ;;
  transfer)
    say ready
    # The path to the peer exists once the bridge forwards: ping until it answers.
    n=0
    until ping -c 1 -W 1 "$PEER" >/dev/null 2>&1; do
      n=$((n + 1))
      [ $n -ge 60 ] && { say "fail ping $PEER"; finish; }
    done
    say "ping-ok $PEER tries=$n"

    # (a) guest -> peer: deterministic data, checksum printed before sending.
    twgen "$SEED" "$SIZE" > /tmp/tx.bin
    say "tx-sha sha256=$(sha_of /tmp/tx.bin) bytes=$(wc -c < /tmp/tx.bin) seed=$SEED"
    n=0
    while :; do
      bounded /tmp/tx.bin nc -w 5 "$PEER" "$TXPORT" > /dev/null
      rc=$?
      n=$((n + 1))
      # rc 1 with nothing sent is a refused connect (listener not ready): retry a few times.
      [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $n -ge 5 ] && break
      sleep 1
    done
    say "tx-done rc=$rc tries=$n"

    # (b) peer -> guest: listen, then tell the host to send.
    rm -f /tmp/rx.bin
    nc -l -p "$RXPORT" < /dev/null > /tmp/rx.bin &
    lpid=$!
    n=0
    until netstat -ltn 2>/dev/null | grep -q ":$RXPORT "; do
      n=$((n + 1))
      [ $n -gt 50 ] && break
      sleep 0.1
    done
    say "listening port=$RXPORT"
    t=0
    rc=0
    while kill -0 $lpid 2>/dev/null; do
      t=$((t + 1))
      if [ $t -gt $((TMO * 5)) ]; then kill $lpid; rc=124; break; fi
      sleep 0.2
    done
    wait $lpid 2>/dev/null
    wrc=$?
    [ $rc -eq 0 ] && rc=$wrc
    say "rx-sha sha256=$(sha_of /tmp/rx.bin) bytes=$(wc -c < /tmp/rx.bin) rc=$rc"
    st=/sys/class/net/eth0/statistics
    say "stats tx_packets=$(cat $st/tx_packets) rx_packets=$(cat $st/rx_packets) rx_errors=$(cat $st/rx_errors) rx_dropped=$(cat $st/rx_dropped)"
    ;;
  *)
    say "fail unknown-role $ROLE"
    ;;
esac
say done
finish
