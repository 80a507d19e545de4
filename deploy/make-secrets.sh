#!/bin/sh
# The secrets of deploy/stack-monitoring.yml (and deploy/stack-agent.yml), made
# once per swarm on a manager:
#
#   deploy/make-secrets.sh              create them as Docker secrets
#   deploy/make-secrets.sh --out DIR    write them as files into DIR instead
#
#   swarmnet_prometheus_password    the password of Prometheus's user "swarmnet"
#                                   (Grafana's datasource, Prometheus's own
#                                   scrape and the agents' remote write use it)
#   swarmnet_prometheus_web_config  Prometheus's --web.config.file: basic auth
#                                   for user "swarmnet" with that password's bcrypt hash
#   swarmnet_grafana_admin_password Grafana's admin password
#
# Passwords come from PROMETHEUS_PASSWORD and GRAFANA_ADMIN_PASSWORD when set,
# else are random (printed once, on stderr: keep them). The bcrypt hash is made
# with htpasswd (apache2-utils), python3's bcrypt module, or node with this
# repository's bcryptjs (after npm ci), whichever is found first.
set -eu

out=
if [ "${1:-}" = "--out" ]; then out=${2:?usage: $0 [--out DIR]}; fi
user=swarmnet
here=$(cd "$(dirname "$0")" && pwd)

random() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n' | cut -c1-24; }

bcrypt() {
  if command -v htpasswd >/dev/null 2>&1; then
    printf '%s' "$1" | htpasswd -niBC 10 "" | tr -d ':\n'
  elif command -v python3 >/dev/null 2>&1 && python3 -c 'import bcrypt' 2>/dev/null; then
    printf '%s' "$1" | python3 -c 'import bcrypt,sys; print(bcrypt.hashpw(sys.stdin.buffer.read(), bcrypt.gensalt(10)).decode(), end="")'
  elif command -v node >/dev/null 2>&1 && [ -d "$here/../node_modules/bcryptjs" ]; then
    printf '%s' "$1" | (cd "$here/.." && node --input-type=module -e '
      import bcrypt from "bcryptjs";
      let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => process.stdout.write(bcrypt.hashSync(s, 10)));')
  else
    echo "make-secrets: no bcrypt tool: install apache2-utils (htpasswd) or python3-bcrypt, or run npm ci" >&2
    exit 1
  fi
}

prom_pass=${PROMETHEUS_PASSWORD:-}
grafana_pass=${GRAFANA_ADMIN_PASSWORD:-}
if [ -z "$prom_pass" ]; then prom_pass=$(random); echo "Prometheus user $user, password: $prom_pass" >&2; fi
if [ -z "$grafana_pass" ]; then grafana_pass=$(random); echo "Grafana user admin, password: $grafana_pass" >&2; fi
hash=$(bcrypt "$prom_pass")
web_config=$(printf '%s\n' \
  '# Prometheus web configuration (--web.config.file), made by deploy/make-secrets.sh' \
  'basic_auth_users:' \
  "  $user: '$hash'")

put() { # name value
  if [ -n "$out" ]; then
    mkdir -p "$out"
    (umask 077; printf '%s' "$2" >"$out/$1")
  else
    printf '%s' "$2" | docker secret create "$1" - >/dev/null
    echo "secret $1 created" >&2
  fi
}
put swarmnet_prometheus_password "$prom_pass"
put swarmnet_prometheus_web_config "$web_config"
put swarmnet_grafana_admin_password "$grafana_pass"
