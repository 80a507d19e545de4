#!/bin/bash
# Run in the guest by run-vm.sh (see swarm-lb.vm.test.ts):
#   guest-swarm-lb.sh DIST OUT NETWORK SERVICE REPLICAS
# A real dockerd and one-node swarm program IPVS themselves: service SERVICE (REPLICAS tasks,
# VIP mode) on overlay network NETWORK gets a fwmark service in lb_<net> with its tasks as
# backends, and its published port one in ingress_sbox. After traffic through both,
# guest-swarm-lb.mjs runs the exporter (its Docker state cache on this dockerd's socket,
# the IPVS reader, every collector, the HTTP app) and lists IPVS with ipvsadm around its
# scrapes; then kills a task's container (swarm replaces it at once: --restart-delay 0s)
# and fakes a stale and a draining backend.
# dockerd starts as in the verified recipe: no image pulls (there is no network; the image
# is imported from a busybox rootfs, and any pull would go to a dead loopback proxy).
# Every address is from 198.18.0.0/15.
set -euo pipefail
dist=$1; out=$2; net=$3; svc=$4; replicas=$5
docker_host=unix:///var/run/docker.sock; exec_root=/var/run/docker   # dockerd's socket and netns files
export DOCKER_HOST=$docker_host
vip_requests=4; published_port=8080; published_requests=6
t0=$(cut -d' ' -f1 /proc/uptime); el() { awk -v t0="$t0" '{printf "%.1fs", $1 - t0}' /proc/uptime; }
modprobe ip_vs      # everything else (overlay, vxlan, bridge, veth, nf_tables) loads on demand
ip link add dummy0 type dummy && ip addr add 198.18.0.1/24 dev dummy0 && ip link set dummy0 up
# A tmpfs: overlay2 cannot use the guest's overlay root as its upper layer, and the host's
# own /var/lib/docker (swarm state included) must not show through.
mkdir -p /var/lib/docker && mount -t tmpfs tmpfs /var/lib/docker
export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
dockerd -H "$docker_host" --exec-root "$exec_root" --bip 198.18.1.1/24 --default-address-pool base=198.18.128.0/17,size=24 >/tmp/dockerd.log 2>&1 &
for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null || { tail -20 /tmp/dockerd.log; exit 1; }
echo "dockerd up at $(el)"
root=/tmp/bbroot; rm -rf $root; mkdir -p $root/bin $root/www && cp "$(command -v busybox)" $root/bin/
chroot $root /bin/busybox --install -s /bin   # one process: a fork per link costs ~0.1 s here
echo hello > $root/www/index.html
tar -C $root -c . | docker import - local/busybox:1 >/dev/null
docker swarm init --advertise-addr 198.18.0.1 --default-addr-pool 198.19.0.0/16 >/dev/null
docker network create -d overlay --subnet 198.19.10.0/24 "$net" >/dev/null
docker service create -d --no-resolve-image --name "$svc" --network "$net" --replicas "$replicas" \
  --publish "$published_port:80" --stop-grace-period 1s --restart-delay 0s local/busybox:1 httpd -f -p 80 -h /www >/dev/null
echo "service created at $(el)"
for _ in $(seq 300); do [ "$(docker service ls -f name="$svc" --format '{{.Replicas}}')" = "$replicas/$replicas" ] && break; sleep 1; done
docker service ps "$svc"
echo "$replicas tasks running at $(el)"
lb=lb_$(docker network inspect -f '{{.Id}}' "$net" | cut -c1-9)
backends() { nsenter --net="$exec_root/netns/$1" ipvsadm -Ln | grep -c -- '-> .*Masq' || true; }
for _ in $(seq 60); do [ "$(backends "$lb")" = "$replicas" ] && [ "$(backends ingress_sbox)" = "$replicas" ] && break; sleep 0.5; done
# The VIP, from inside a task: balanced in lb_<net>. The published port: through
# ingress_sbox. (busybox wget's own -T crashes in Debian's busybox 1.35: timeout(1) instead.)
docker exec "$(docker ps -q -f label=com.docker.swarm.service.name="$svc" | head -1)" sh -c \
  "for i in \$(seq $vip_requests); do timeout 20 wget -q -O /dev/null http://$svc/; done"
for _ in $(seq "$published_requests"); do timeout 20 busybox wget -q -O /dev/null "http://198.18.0.1:$published_port/"; done
echo "requests sent at $(el)"
sleep 2.5   # IPVS folds its per-CPU counters into what it reports every 2 s
printf '{"dockerHost":"%s","netnsDir":"%s","network":"%s","service":"%s","replicas":%d,"vipRequests":%d,"publishedPort":%d,"publishedRequests":%d}\n' \
  "$docker_host" "$exec_root/netns" "$net" "$svc" "$replicas" "$vip_requests" "$published_port" "$published_requests" > "$out/setup.json"
exec node "$(dirname "$0")/guest-swarm-lb.mjs" "$dist" "$out"
