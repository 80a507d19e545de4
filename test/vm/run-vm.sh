#!/bin/bash
# run-vm.sh GUEST_SCRIPT [TIMEOUT_S [ARG...]]
# Boots Debian's packaged 6.1 kernel (it has IPVS; the host's may not) under qemu with this
# machine's root filesystem shared read-only (a writable tmpfs overlay on top) and runs
# GUEST_SCRIPT ARG... inside as root, in the caller's working directory. The guest has no
# network device. Exits with the script's exit code; 124 if the guest did not finish within
# TIMEOUT_S (default 300; qemu is killed), 125 if the guest's init failed.
# KVM when /dev/kvm opens and boots the guest, else qemu's software emulation (TCG).
# Environment: SWARMNET_VM_CACHE (kernel + initramfs, built once; default
# /var/cache/swarmnet-vm), SWARMNET_VM_OUT (host dir shared writable as /out in the guest;
# holds console.log and rc), SWARMNET_VM_ACCEL=kvm|tcg, SWARMNET_VM_MEM (MiB, default 2048),
# SWARMNET_VM_SMP (default 2), SWARMNET_VM_CPU, SWARMNET_VM_KVM_BOOT_S (default 20).
# Needs: qemu-system-x86 busybox-static cpio kmod xz-utils (apt), and apt lists for the
# first run, which downloads the kernel package with apt-get download.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,14s/^# \{0,1\}//p' "$0" >&2; exit 2; }
GUEST=$(readlink -f "$1"); TIMEOUT=${2:-300}; shift $(( $# >= 2 ? 2 : 1 ))
[ -x "$GUEST" ] || { echo "run-vm.sh: not an executable file: $GUEST" >&2; exit 2; }
CACHE=${SWARMNET_VM_CACHE:-/var/cache/swarmnet-vm}
OUT=${SWARMNET_VM_OUT:-$(mktemp -d /tmp/swarmnet-vm-out.XXXXXX)}; mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
for t in qemu-system-x86_64:qemu-system-x86 busybox:busybox-static cpio:cpio depmod:kmod xz:xz-utils; do
  command -v "${t%:*}" >/dev/null || { echo "run-vm.sh: needs ${t%:*}: apt-get install -y ${t#*:}" >&2; exit 2; }
done

# 1. Once: Debian's kernel package, extracted (not installed), and an initramfs.
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"; flock 9            # concurrent runs share one cache
if [ ! -f "$CACHE/kver" ]; then
  # linux-image-amd64 depends on the versioned package. (The cloud flavour has no 9p.)
  pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
  [ -n "$pkg" ] || { echo "run-vm.sh: apt knows no linux-image-amd64: run apt-get update" >&2; exit 2; }
  rm -rf "$CACHE/dl" "$CACHE/k"; mkdir -p "$CACHE/dl"
  (cd "$CACHE/dl" && apt-get download -q "$pkg") >&2
  dpkg -x "$CACHE"/dl/"$pkg"_*.deb "$CACHE/k" && rm -rf "$CACHE/dl"
  kver=$(ls "$CACHE/k/lib/modules"); depmod -b "$CACHE/k" "$kver"
  # For TCG: the vmlinuz is xz-compressed, and unpacking it emulated costs ~3 s per boot.
  # qemu boots the uncompressed ELF vmlinux directly (PVH entry point).
  vz="$CACHE/k/boot/vmlinuz-$kver"
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vz" | head -1 | cut -d: -f1)
  { [ -n "$off" ] && tail -c +$((off + 1)) "$vz" | xz -dcq; } > "$CACHE/vmlinux" 2>/dev/null || true
  [ "$(head -c4 "$CACHE/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] || rm -f "$CACHE/vmlinux"
  echo "$kver" > "$CACHE/kver"
fi
kver=$(cat "$CACHE/kver"); mods="$CACHE/k/lib/modules/$kver"
initrd="$CACHE/initramfs-$(cat "$here/init" "$0" | md5sum | cut -c1-12).gz"   # rebuilt when they change
if [ ! -f "$initrd" ]; then
  ir=$(mktemp -d "$CACHE/ir.XXXXXX"); mkdir -p "$ir"/{bin,modules,proc,sys,dev}
  cp "$(command -v busybox)" "$ir/bin/busybox"; cp "$here/init" "$ir/init"; chmod 755 "$ir/init"
  # The modules that mount the root (virtio-pci, 9p, overlay), dependencies first.
  for m in virtio_pci 9pnet_virtio 9p overlay; do
    modprobe -d "$CACHE/k" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++' | while read -r f; do
    n=$(basename "$f" .ko); cp "$f" "$ir/modules/$n.ko"; echo "$n"
  done > "$ir/modules.order"
  (cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.new"
  rm -f "$CACHE"/initramfs-*.gz; mv "$initrd.new" "$initrd"; rm -rf "$ir"   # older ones are stale
fi
flock -u 9

# 2. KVM if it opens and boots this kernel, else TCG. ([ -c ] first: "exec 3<>/dev/kvm"
# alone would create a plain file where there is none.) A /dev/kvm that opens may still be
# unable to run a stock kernel (a PVM-only KVM hangs it right after the decompressor), so
# the first KVM boot is watched: no GUEST-START within SWARMNET_VM_KVM_BOOT_S seconds and it
# is killed, remembered as broken for this host kernel, and the job reruns under TCG.
# A host whose only KVM is kvm_pvm (it is itself a PVM guest) runs PVM-enabled guest kernels
# only: known broken, no need to watch it fail.
verdict="$CACHE/kvm-boots-$(uname -r | md5sum | cut -c1-8)-$kver"
if [ -d /sys/module/kvm_pvm ] && [ ! -d /sys/module/kvm_intel ] && [ ! -d /sys/module/kvm_amd ]; then echo no > "$verdict"; fi
if [ -n "${SWARMNET_VM_ACCEL:-}" ]; then accel=$SWARMNET_VM_ACCEL; watch=0
elif [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null && [ "$(cat "$verdict" 2>/dev/null)" != no ]; then accel=kvm; watch=1
else accel=tcg; watch=0; fi

# 3. The job: the guest's PID 1 runs /out/.vm-job and writes its exit code to /out/rc.
# $OUT is writable in the guest as /out and under its own host path too.
printf 'mount --bind /out %q\ncd %q || exit 126\nexec %q' "$OUT" "$PWD" "$GUEST" > "$OUT/.vm-job"
[ $# -eq 0 ] || printf ' %q' "$@" >> "$OUT/.vm-job"; echo >> "$OUT/.vm-job"
fs() { echo "-fsdev local,id=$1,path=$2,security_model=none,multidevs=remap$3 -device virtio-9p-pci,fsdev=$1,mount_tag=$1"; }
qpid=; trap '[ -n "$qpid" ] && kill $qpid 2>/dev/null; exit 130' INT TERM
t0=$(date +%s.%N)
boot() {  # boot ACCEL WATCH: 0 when qemu ended by itself, 3 when the KVM boot watch fired
  local qa kernel
  if [ "$1" = kvm ]; then   # qemu falls back to TCG if KVM does not initialise at all
    qa=(-accel kvm -accel tcg,thread=multi -cpu "${SWARMNET_VM_CPU:-qemu64}"); kernel="$CACHE/k/boot/vmlinuz-$kver"
  else
    qa=(-accel tcg,thread=multi -cpu "${SWARMNET_VM_CPU:-max}"); kernel="$CACHE/vmlinux"
    [ -f "$kernel" ] || kernel="$CACHE/k/boot/vmlinuz-$kver"
  fi
  rm -f "$OUT/rc" "$OUT/console.log"
  echo "run-vm.sh: kernel $kver, accel $1: ${qa[*]}, ${SWARMNET_VM_MEM:-2048} MiB, out $OUT" >&2
  # The console goes to stdout and to $OUT/console.log. Background + wait, so that a TERM
  # to this script stops qemu too (timeout runs it in a process group of its own).
  timeout -k 5 "$TIMEOUT" qemu-system-x86_64 "${qa[@]}" -smp "${SWARMNET_VM_SMP:-2}" -m "${SWARMNET_VM_MEM:-2048}" \
    -no-reboot -nodefaults -display none -nic none \
    -chardev stdio,id=con,signal=off,logfile="$OUT/console.log" -serial chardev:con \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 quiet panic=-1 mitigations=off" \
    $(fs hostroot / ,readonly=on) $(fs out "$OUT" "") $(fs modules "$mods" ,readonly=on) </dev/null &
  qpid=$!
  if [ "$2" = 1 ]; then
    local limit=$(( ${SWARMNET_VM_KVM_BOOT_S:-20} * 5 )) i=0
    while kill -0 $qpid 2>/dev/null && ! grep -qa '^GUEST-START' "$OUT/console.log" 2>/dev/null; do
      if [ $((i += 1)) -gt $limit ]; then
        kill $qpid 2>/dev/null; wait $qpid 2>/dev/null || true
        echo "run-vm.sh: KVM did not boot the guest in ${SWARMNET_VM_KVM_BOOT_S:-20}s; using TCG from now on ($verdict)" >&2
        echo no > "$verdict"; return 3
      fi
      sleep 0.2
    done
    grep -qa '^GUEST-START' "$OUT/console.log" 2>/dev/null && echo yes > "$verdict"
  fi
  wait $qpid
}
qrc=0; boot "$accel" "$watch" || qrc=$?
if [ $qrc = 3 ]; then accel=tcg; qrc=0; boot tcg 0 || qrc=$?; fi
wall=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
if [ -f "$OUT/rc" ]; then
  echo "run-vm.sh: guest script exit $(cat "$OUT/rc") after ${wall}s ($accel)" >&2; exit "$(cat "$OUT/rc")"
fi
if grep -q '^SWARMNET-VM-INIT-FAILED' "$OUT/console.log" 2>/dev/null; then
  echo "run-vm.sh: the guest's init failed (see above); console: $OUT/console.log" >&2; exit 125
fi
echo "run-vm.sh: guest did not finish (qemu exit $qrc after ${wall}s, $accel); console: $OUT/console.log" >&2
exit 124
