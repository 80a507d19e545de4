#!/bin/bash
# Run in the guest by run-vm.sh (see lb-rolling.vm.test.ts):
#   guest-lb-rolling.sh DIST OUT RULES_DIR GRACE
# A real dockerd and one-node swarm run service web (2 replicas, VIP mode, a task that
# ignores SIGTERM so that it lives out its stop grace period GRACE); the built exporter
# (DIST/main.js) runs as a process on this dockerd, and a real Prometheus scrapes it every
# 2 s with the shipped rules (RULES_DIR) evaluated every second. Then a rolling update
# (docker service update --force, start-first, both tasks at once): the old tasks' backends
# drain at weight 0 for GRACE. Every 3 s until the old backends are gone, OUT/polls.jsonl
# gets the active alerts and the backends IPVS and Prometheus see. Writes OUT/result.json.
set -euo pipefail
dist=$1; out=$2; rules=$3; grace=$4
docker_host=unix:///var/run/docker.sock; exec_root=/var/run/docker
export DOCKER_HOST=$docker_host
t0=$(cut -d' ' -f1 /proc/uptime); el() { awk -v t0="$t0" '{printf "%.1f", $1 - t0}' /proc/uptime; }
modprobe ip_vs
ip link set lo up
ip link add dummy0 type dummy && ip addr add 198.18.0.1/24 dev dummy0 && ip link set dummy0 up
mkdir -p /var/lib/docker && mount -t tmpfs tmpfs /var/lib/docker
export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
dockerd -H "$docker_host" --exec-root "$exec_root" --bip 198.18.1.1/24 --default-address-pool base=198.18.128.0/17,size=24 >/tmp/dockerd.log 2>&1 &
for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null || { tail -20 /tmp/dockerd.log; exit 1; }
echo "dockerd up at $(el) s"
root=/tmp/bbroot; rm -rf $root; mkdir -p $root/bin $root/www && cp "$(command -v busybox)" $root/bin/
chroot $root /bin/busybox --install -s /bin
echo hello > $root/www/index.html
tar -C $root -c . | docker import - local/busybox:1 >/dev/null
docker swarm init --advertise-addr 198.18.0.1 --default-addr-pool 198.19.0.0/16 >/dev/null
docker network create -d overlay --subnet 198.19.10.0/24 net1 >/dev/null
# SIGTERM ignored (and inherited as ignored by httpd): the task lives its whole grace period
docker service create -d --no-resolve-image --name web --network net1 --replicas 2 \
  --stop-grace-period "$grace" --update-order start-first --update-parallelism 2 --restart-delay 0s \
  local/busybox:1 sh -c "trap '' TERM; httpd -f -p 80 -h /www" >/dev/null
for _ in $(seq 300); do [ "$(docker service ls -f name=web --format '{{.Replicas}}')" = "2/2" ] && break; sleep 1; done
lb=lb_$(docker network inspect -f '{{.Id}}' net1 | cut -c1-9)
ipvs() { { nsenter --net="$exec_root/netns/$lb" ipvsadm -Ln 2>/dev/null | awk '/-> .*Masq/ {print $2 "/" $4}' | sort | tr '\n' ' '; } || true; }
for _ in $(seq 120); do [ "$(ipvs | wc -w)" = 2 ] && break; sleep 0.5; done
echo "2 tasks running, IPVS in $lb: $(ipvs) at $(el) s"

node "$dist/main.js" --web.listen-address=127.0.0.1:9477 --netns.dir="$exec_root/netns" --docker.host="$docker_host" \
  --netns.host=none --log.level=warn >/tmp/exporter.log 2>&1 &
for _ in $(seq 120); do curl -sf -o /dev/null http://127.0.0.1:9477/healthz 2>/dev/null && break; sleep 0.5; done
mkdir -p /tmp/prom
cat > /tmp/prom/prometheus.yml <<YAML
global: { scrape_interval: 2s, scrape_timeout: 2s, evaluation_interval: 1s }
rule_files: ["$rules/*.yml"]
scrape_configs:
  - job_name: swarmnet
    static_configs: [{ targets: ["127.0.0.1:9477"], labels: { node: guest } }]
YAML
prometheus --config.file=/tmp/prom/prometheus.yml --storage.tsdb.path=/tmp/prom/data --web.listen-address=127.0.0.1:9090 --log.level=warn >/tmp/prom.log 2>&1 &
q() { curl -sS --max-time 20 --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query; }
for _ in $(seq 240); do q 'swarmnet_lb_backend_up{job="swarmnet"} == 1' 2>/dev/null | grep -q '"backend"' && break; sleep 1; done
sleep 20   # a few evaluations over the steady state
alerts() { curl -sS --max-time 20 http://127.0.0.1:9090/api/v1/alerts; }
echo "prometheus scraping at $(el) s; alerts before: $(alerts)"
before=$(alerts)
old_ips=$(ipvs)

docker service update -d --force web >/dev/null
update_at=$(el); echo "rolling update started at $update_at s (old backends $old_ips)"
: > "$out/polls.jsonl"
end=$(awk -v g="${grace%s}" 'BEGIN{print g + 240}')
while :; do
  now=$(el)
  printf '{"t":%s,"ipvs":"%s","alerts":%s,"weight0":%s,"oldRule":%s}\n' "$now" "$(ipvs)" "$(alerts)" \
    "$(q 'swarmnet_lb_backend_weight{job="swarmnet", netns_kind="lb"} == 0')" \
    "$(q 'swarmnet_lb_backend_up{job="swarmnet", netns_kind="lb"} == 0')" >> "$out/polls.jsonl"
  # done once the old backends are gone and two new ones are at weight 1, plus 20 s
  live=$(ipvs)
  gone=1; for ip in $old_ips; do case " $live " in *" ${ip%/*}/"*) gone=0;; esac; done
  if [ $gone = 1 ] && [ "$(echo "$live" | wc -w)" = 2 ]; then
    [ -z "${done_at:-}" ] && done_at=$now
    awk -v a="$now" -v b="$done_at" 'BEGIN{exit !(a - b > 20)}' && break
  fi
  awk -v a="$now" -v u="$update_at" -v e="$end" 'BEGIN{exit !(a - u > e)}' && { echo "update not done in time"; break; }
  sleep 3
done
docker service ps web --no-trunc >&2 || true
printf '{"grace":"%s","updateAt":%s,"doneAt":%s,"oldBackends":"%s","before":%s,"exporterLog":%s}\n' "$grace" "$update_at" "${done_at:-null}" "$old_ips" "$before" \
  "$(tail -c 2000 /tmp/exporter.log | node -e 'process.stdout.write(JSON.stringify(require("fs").readFileSync(0, "utf8")))')" > "$out/result.json"
echo "done at $(el) s"
