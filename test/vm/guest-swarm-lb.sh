#!/bin/bash
# Run in the guest by run-vm.sh (see swarm-lb.vm.test.ts): guest-swarm-lb.sh DIST OUT
# A real dockerd and one-node swarm program IPVS themselves: a VIP-mode service on an
# overlay network gets a fwmark service in lb_<net> with its tasks as backends, and its
# published port one in ingress_sbox. After traffic through both, guest-swarm-lb.mjs reads
# them with the exporter's code and with ipvsadm, kills a task's container, and reads again.
# dockerd starts as in the verified recipe: no image pulls (there is no network; the image
# is imported from a busybox rootfs, and any pull would go to a dead loopback proxy).
# Every address is from 198.18.0.0/15.
set -euo pipefail
dist=$1; out=${2:-/out}
t0=$(cut -d' ' -f1 /proc/uptime); el() { awk -v t0="$t0" '{printf "%.1fs", $1 - t0}' /proc/uptime; }
modprobe ip_vs      # everything else (overlay, vxlan, bridge, veth, nf_tables) loads on demand
ip link add dummy0 type dummy && ip addr add 198.18.0.1/24 dev dummy0 && ip link set dummy0 up
# A tmpfs: overlay2 cannot use the guest's overlay root as its upper layer, and the host's
# own /var/lib/docker (swarm state included) must not show through.
mkdir -p /var/lib/docker && mount -t tmpfs tmpfs /var/lib/docker
export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
dockerd --bip 198.18.1.1/24 --default-address-pool base=198.18.128.0/17,size=24 >/tmp/dockerd.log 2>&1 &
for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null || { tail -20 /tmp/dockerd.log; exit 1; }
echo "dockerd up at $(el)"
root=/tmp/bbroot; rm -rf $root; mkdir -p $root/bin $root/www && cp "$(command -v busybox)" $root/bin/
chroot $root /bin/busybox --install -s /bin   # one process: a fork per link costs ~0.1 s here
echo hello > $root/www/index.html
tar -C $root -c . | docker import - local/busybox:1 >/dev/null
docker swarm init --advertise-addr 198.18.0.1 --default-addr-pool 198.19.0.0/16 >/dev/null
docker network create -d overlay --subnet 198.19.10.0/24 net1 >/dev/null
docker service create -d --no-resolve-image --name web --network net1 --replicas 2 \
  --publish 8080:80 --stop-grace-period 1s local/busybox:1 httpd -f -p 80 -h /www >/dev/null
echo "service created at $(el)"
for _ in $(seq 300); do [ "$(docker service ls -f name=web --format '{{.Replicas}}')" = 2/2 ] && break; sleep 1; done
docker service ps web
echo "2 tasks running at $(el)"
lb=$(cd /var/run/docker/netns && ls -d lb_* | head -1)
backends() { nsenter --net=/var/run/docker/netns/$1 ipvsadm -Ln | grep -c -- '-> .*Masq' || true; }
for _ in $(seq 60); do [ "$(backends $lb)" = 2 ] && [ "$(backends ingress_sbox)" = 2 ] && break; sleep 0.5; done
# The VIP, from inside a task: balanced in lb_<net>. The published port: through
# ingress_sbox. (busybox wget's own -T crashes in Debian's busybox 1.35: timeout(1) instead.)
docker exec "$(docker ps -q -f name=web | head -1)" sh -c \
  'for i in 1 2 3 4; do timeout 20 wget -q -O /dev/null http://web/; done'
for _ in $(seq 6); do timeout 20 busybox wget -q -O /dev/null http://198.18.0.1:8080/; done
echo "requests sent at $(el)"
sleep 2.5   # IPVS folds its per-CPU counters into what it reports every 2 s
exec node "$(dirname "$0")/guest-swarm-lb.mjs" "$dist" "$out"
