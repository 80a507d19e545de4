#!/usr/bin/env bash
# Make local Node.js base images from this machine's own files, for a Docker
# daemon that cannot pull (no registry is reachable):
#
#   swarmnet/node-distroless:local  the host's node binary at /nodejs/bin/node (where
#                              distroless has it) and the shared libraries it
#                              links, nothing else (the runtime stage: no shell,
#                              no package manager, like gcr.io/distroless/nodejs*)
#   swarmnet/node-build:local  the files of the host's Debian packages that a
#                              build needs (sh, coreutils, sed, flock, make, g++,
#                              python3, nodejs with npm and headers) and every
#                              package they depend on (the build stage)
#
# Usage: DOCKER_HOST=unix:///path/to/docker.sock test/harness/node-image.sh [base|build|all]
# Images already present are kept unless FORCE=1.
set -euo pipefail

what=${1:-all}
docker=${DOCKER:-docker}
work=$(mktemp -d /tmp/swarmnet-node-image.XXXXXX)
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$work"' EXIT

have_image() { [ "${FORCE:-0}" != 1 ] && "$docker" image inspect "$1" >/dev/null 2>&1; }

node_bin=$(readlink -f "$(command -v node)")
node_dir=$(dirname "$(dirname "$node_bin")")   # /usr or /usr/local

# Merged-/usr top-level links, as Debian 12 has them.
skeleton() {
  local root=$1
  mkdir -p "$root"/usr/bin "$root"/usr/sbin "$root"/usr/lib "$root"/usr/lib64 "$root"/etc "$root"/root
  mkdir -m 1777 -p "$root"/tmp "$root"/var/tmp
  ln -s usr/bin "$root"/bin
  ln -s usr/sbin "$root"/sbin
  ln -s usr/lib "$root"/lib
  ln -s usr/lib64 "$root"/lib64
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root"/etc/passwd
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root"/etc/group
  printf 'hosts: files dns\n' >"$root"/etc/nsswitch.conf
}

make_base() {
  local root=$work/base
  skeleton "$root"
  mkdir -p "$root/nodejs/bin"
  cp -a "$node_bin" "$root/nodejs/bin/node"
  # the libraries node links, and the dynamic loader, at their canonical paths
  ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
    real=$(readlink -f "$lib")
    canon="$(readlink -f "$(dirname "$lib")")/$(basename "$lib")"
    mkdir -p "$root$(dirname "$canon")" "$root$(dirname "$real")"
    cp -a "$real" "$root$real"
    if [ "$canon" != "$real" ]; then ln -sf "$real" "$root$canon"; fi
  done
  tar -C "$root" -c . | "$docker" import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'ENTRYPOINT ["/nodejs/bin/node"]' \
    --message "node $(node --version) from the host, with its libraries, laid out as distroless" \
    - swarmnet/node-distroless:local >/dev/null
}

make_build() {
  local root=$work/build
  skeleton "$root"
  local want="dash bash debianutils coreutils sed grep findutils util-linux diffutils tar gzip make g++ python3 ca-certificates"
  local node_pkg
  node_pkg=$(dpkg -S "$node_bin" 2>/dev/null | cut -d: -f1 || true)
  # every installed package in the dependency closure
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances $want $node_pkg 2>/dev/null \
    | grep -v '^ ' | grep -v '^<' | sort -u >"$work/candidates"
  : >"$work/pkgs"
  while read -r p; do
    if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ]; then echo "$p" >>"$work/pkgs"; fi
  done <"$work/candidates"
  # their files and symlinks (directories come with them), at merged-/usr paths
  xargs dpkg -L <"$work/pkgs" 2>/dev/null \
    | sed -E 's#^/(bin|sbin|lib|lib64)/#/usr/\1/#' | sort -u \
    | grep -v "^${node_dir}/lib/node_modules/." \
    | while IFS= read -r f; do if [ -L "$f" ] || [ -f "$f" ]; then printf "%s\n" "${f#/}"; fi; done >"$work/files"
  # update-alternatives links (cc, c++, awk...) belong to no package: keep those that lead to a kept file
  sort -u -o "$work/files" "$work/files"
  for l in /etc/alternatives/* /usr/bin/* /usr/sbin/*; do
    [ -L "$l" ] || continue
    t=$(readlink -f "$l") || continue
    if [ -n "$t" ] && grep -qxF "${t#/}" "$work/files"; then
      echo "${l#/}" >>"$work/files"
      case $(readlink "$l") in /etc/alternatives/*) echo "etc/alternatives/$(basename "$(readlink "$l")")" >>"$work/files" ;; esac
    fi
  done
  # the CA bundle is generated, not shipped
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then echo etc/ssl/certs/ca-certificates.crt >>"$work/files"; fi
  # node's module tree (npm, corepack) whole; a node not installed by a package: its files too
  local extra=()
  if [ -d "$node_dir/lib/node_modules" ]; then extra+=("${node_dir#/}/lib/node_modules"); fi
  if [ -z "$node_pkg" ]; then
    for d in bin/node bin/npm bin/npx include/node; do if [ -e "$node_dir/$d" ]; then extra+=("${node_dir#/}/$d"); fi; done
  fi
  # the skeleton's own files win
  grep -vxE 'etc/(passwd|group|nsswitch\.conf)|bin|sbin|lib|lib64|lib32|libx32' "$work/files" | sort -u >"$work/files.u" && mv "$work/files.u" "$work/files"
  tar -C "$root" -cf "$work/build.tar" .
  tar -C / --no-recursion -rf "$work/build.tar" -T "$work/files"
  [ ${#extra[@]} -eq 0 ] || tar -C / -rf "$work/build.tar" "${extra[@]}"
  "$docker" import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'CMD ["/bin/sh"]' \
    --message "build tools and node $(node --version) from the host's Debian packages" \
    "$work/build.tar" swarmnet/node-build:local >/dev/null
  wc -l <"$work/pkgs" | xargs printf 'node-build: %s packages\n' >&2
}

start=$(date +%s)
case $what in
  base|all) have_image swarmnet/node-distroless:local || make_base ;;&
  build|all) have_image swarmnet/node-build:local || make_build ;;
  base) ;;
  *) echo "usage: $0 [base|build|all]" >&2; exit 2 ;;
esac
echo "node images ready in $(( $(date +%s) - start ))s" >&2
