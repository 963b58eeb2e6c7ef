#!/bin/sh
# Copy of /work/shared/lab/seed-firewall.sh (the seed policy), kept here so the recorder
# does not depend on /work/shared at run time. Do not edit: it is the reference.
# The seed's firewall, verbatim in meaning (vboxin/vboxout on the FORWARD chain).
iptables -F
iptables -X
iptables -P FORWARD DROP
iptables -N vboxin
iptables -N vboxout
iptables -F vboxin
iptables -F vboxout
iptables -A FORWARD -m physdev --physdev-out tap0 -j vboxin
iptables -A FORWARD -m physdev --physdev-in tap0 -j vboxout
iptables -A vboxin -m state --state ESTABLISHED,RELATED -j ACCEPT
iptables -A vboxin -p tcp --dport 1024:65535 -j ACCEPT
iptables -A vboxin -p udp --dport 1024:65535 -j ACCEPT
iptables -A vboxin -p udp --dport 67:68 --sport 67:68 -j ACCEPT
iptables -A vboxin -p tcp -m multiport --dports 80,443,465,993,995 -j ACCEPT
iptables -A vboxout -j ACCEPT
