#!/usr/bin/env bash
# The README's "main job" command, for now the offline one: install dependencies, build
# tapwall (Release), and replay a bundled capture — frames the kernel bridge saw on eth0 and
# tap0, recorded in a namespace lab — through the seed's own firewall script, printing what
# passed and what was dropped and why. Writes the drops to a pcapng under out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTAPWALL_BENCH=OFF >/dev/null
cmake --build build/release --target tapwall -j"$(nproc)"
CASE=tests/golden/seed_stateful
mkdir -p out/demo
echo "== tapwall replay: ${CASE} through the seed's firewall script (tools/golden/seed-firewall.sh)"
./build/release/tapwall replay --rules tools/golden/seed-firewall.sh \
  --uplink eth0 --vm tap0 \
  --in eth0="$CASE/in-eth0.pcap" --in tap0="$CASE/in-tap0.pcap" \
  --print --drops out/demo/drops.pcapng --verdicts out/demo/verdicts.jsonl
echo "== summary"
./build/release/tapwall replay --rules tools/golden/seed-firewall.sh \
  --uplink eth0 --vm tap0 \
  --in eth0="$CASE/in-eth0.pcap" --in tap0="$CASE/in-tap0.pcap" \
  --verdicts /dev/null
echo "== dropped frames are in out/demo/drops.pcapng (tshark -r out/demo/drops.pcapng -T fields -e frame.comment)"
