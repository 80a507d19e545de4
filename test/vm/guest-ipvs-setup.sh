#!/bin/bash
# Run in the guest by guest-ipvs.mjs: builds IPVS load balancers the way swarm places them
# (a director namespace per network, lb_vmtest, and an ingress_sbox), with backends and a
# client in namespaces of their own behind veths, then pushes real traffic through them.
# Test addresses only: VIPs 203.0.113.10-12, clients 198.18.0.0/24, backends 198.51.100.0/24.
# The guest has no NIC: nothing leaves it. Few processes: each fork costs ~0.1 s under TCG.
set -euo pipefail
modprobe ip_vs   # schedulers (rr, wrr, lc, sh, sed) load on the kernel's own request
ip -b - <<'B'
netns add lb_vmtest
netns add ingress_sbox
netns add client
netns add be1
netns add be2
B
# The director: VIPs on a dummy, backends on a bridge, clients on a routed veth.
ip -n lb_vmtest -b - <<'B'
link set lo up
link add dummy0 type dummy
addr add 203.0.113.10/32 dev dummy0
addr add 203.0.113.11/32 dev dummy0
addr add 203.0.113.12/32 dev dummy0
link set dummy0 up
link add br0 type bridge
addr add 198.51.100.1/24 dev br0
link set br0 up
link add vc0 type veth peer name vc1 netns client
addr add 198.18.0.1/24 dev vc0
link set vc0 up
link add be1p type veth peer name eth0 netns be1
link set be1p master br0 up
link add be2p type veth peer name eth0 netns be2
link set be2p master br0 up
B
ip -n client -b - <<'B'
link set lo up
addr add 198.18.0.2/24 dev vc1
link set vc1 up
route add default via 198.18.0.1
B
# Masquerading backends answer through the director: their default route points at it.
ip -n be1 -b - <<'B'
link set lo up
addr add 198.51.100.21/24 dev eth0
addr add 198.51.100.22/24 dev eth0
link set eth0 up
route add default via 198.51.100.1
B
ip -n be2 -b - <<'B'
link set lo up
addr add 198.51.100.23/24 dev eth0
link set eth0 up
route add default via 198.51.100.1
B
ip -n ingress_sbox link set lo up
mkdir -p /run/www && echo hello > /run/www/index.html
ip netns exec be1 sh -c 'for a in 21:80 22:80 21:8080 22:8080; do busybox httpd -p 198.51.100.$a -h /run/www; done'
# be2: a web server, and a listener that holds its one connection open (an active connection)
# (nc's input never ends, or it would close its side when its stdin did)
ip netns exec be2 sh -c 'busybox httpd -p 198.51.100.23:80 -h /run/www; sleep 3600 | busybox nc -l -p 9000 >/dev/null 2>&1 &'
# What swarm programs (masquerading, round robin, fwmark services, a draining weight-0
# backend), plus other schedulers, thresholds, a persistent service and an empty one.
ip netns exec lb_vmtest bash -c '
echo 1 > /proc/sys/net/ipv4/ip_forward
iptables -t mangle -A PREROUTING -d 203.0.113.10/32 -p tcp --dport 8080 -j MARK --set-mark 257
ipvsadm -R <<R
-A -t 203.0.113.10:80 -s rr
-a -t 203.0.113.10:80 -r 198.51.100.21:80 -m -w 1
-a -t 203.0.113.10:80 -r 198.51.100.22:80 -m -w 0
-a -t 203.0.113.10:80 -r 198.51.100.23:80 -m -w 2 -x 100 -y 10
-A -u 203.0.113.10:53 -s wrr
-a -u 203.0.113.10:53 -r 198.51.100.21:53 -m -w 3
-a -u 203.0.113.10:53 -r 198.51.100.23:53 -m -w 1
-A -f 257 -s lc
-a -f 257 -r 198.51.100.21:0 -m -w 1
-a -f 257 -r 198.51.100.22:0 -m -w 1
-A -t 203.0.113.11:8443 -s sh -p 60 -M 255.255.255.0
-a -t 203.0.113.11:8443 -r 198.51.100.23:80 -m -w 1
-A -t 203.0.113.10:9000 -s rr
-a -t 203.0.113.10:9000 -r 198.51.100.23:9000 -m -w 1
-A -t 203.0.113.12:81 -s sed
R'
ip netns exec ingress_sbox ipvsadm -R <<'R'
-A -f 256 -s rr
-a -f 256 -r 198.18.1.5:0 -m -w 1
-a -f 256 -r 198.18.1.6:0 -m -w 1
R
# Traffic from the client namespace, with bash's own /dev/tcp and /dev/udp (no forks).
# SWARMNET_VM_REQUESTS (default 12) HTTP requests to the TCP VIP, half as many through the
# fwmark, 5 UDP datagrams, 4 requests to the persistent service; and one connection that
# stays open (held by a background sleep) for an active-connection count.
ip netns exec client bash -c '
get() { exec 3<>"/dev/tcp/$1/$2"; printf "GET / HTTP/1.0\r\nHost: vip\r\n\r\n" >&3; while IFS= read -r -u 3 _; do :; done; exec 3<&-; }
n=${SWARMNET_VM_REQUESTS:-12}
for ((i = 0; i < n; i++)); do get 203.0.113.10 80; done
for ((i = 0; i < n / 2; i++)); do get 203.0.113.10 8080; done
for ((i = 0; i < 5; i++)); do echo ping > /dev/udp/203.0.113.10/53; done
for ((i = 0; i < 4; i++)); do get 203.0.113.11 8443; done
exec 4<>/dev/tcp/203.0.113.10/9000; echo hello >&4
sleep 3600 </dev/null >/dev/null 2>&1 &'
echo "setup: services programmed and traffic sent"
