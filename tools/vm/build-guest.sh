#!/bin/bash
# Builds the VM test's tiny guest from Debian packages into a cache directory:
#   vmlinuz             Debian's kernel (linux-image-amd64's versioned package)
#   initramfs.cpio.gz   busybox-static + /init (guest-init.sh) + twgen + virtio modules
#   manifest.txt        what went in (kernel package, modules found or built in)
# Usage: tools/vm/build-guest.sh [CACHE_DIR]     (default: <repo>/build/vm-guest, not in git)
# Idempotent: skips the work when CACHE_DIR holds a guest built from the same inputs
# (this script, guest-init.sh, twgen.c). Safe to run concurrently (flock). Installs what it
# needs with apt-get when missing (see tools/vm/README.md). Prints CACHE_DIR on success;
# exits 77 when the packages cannot be installed, 1 on any other failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/build/vm-guest}
mkdir -p "$out"
out=$(cd "$out" && pwd)

log() { echo "build-guest: $*" >&2; }

# Modules virtio-net needs, in load order (DESIGN.md §5). Any of them may be built in.
modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
         failover net_failover virtio_net)

stamp=$( (cat "$here/build-guest.sh" "$here/guest-init.sh" "$here/twgen.c") | sha256sum | cut -d' ' -f1)

exec 9>"$out/.lock"
flock 9
if [[ -f "$out/stamp" && "$(cat "$out/stamp")" == "$stamp" && -s "$out/vmlinuz" && -s "$out/initramfs.cpio.gz" ]]; then
  log "cached guest in $out"
  echo "$out"
  exit 0
fi

# Host tools: qemu to run the guest, busybox-static for its userspace, cpio/gzip to pack it,
# a C compiler with a static libc for twgen, xz for modules shipped as .ko.xz; tcpdump and
# iproute2 for the test that runs the guest (tests/vm/test_vm_guest.py).
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in qemu-system-x86 busybox-static cpio gzip xz-utils gcc libc6-dev tcpdump iproute2; do
  have_pkg "$p" || need+=("$p")
done
if ((${#need[@]})); then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${need[@]}" >&2 &&
     ! { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${need[@]}" >&2; }; then
    log "cannot install ${need[*]} with apt-get: the VM test cannot run here"
    exit 77  # CTest's SKIP_RETURN_CODE for the VM tests
  fi
fi

work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The metapackage only depends on the versioned image; resolve it (or take the newest
# versioned package apt knows) and download that.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
       awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [[ -z "$kpkg" ]]; then
  kpkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
         awk '{print $1}' | sort -V | tail -1)
fi
if [[ -z "$kpkg" ]]; then  # no apt lists: a kernel downloaded earlier will do
  kpkg=$(ls "$out"/debs/linux-image-*.deb 2>/dev/null | sort -V | tail -1 | xargs -r basename |
         cut -d_ -f1)
fi
if [[ -z "$kpkg" ]]; then
  apt-get update -q >&2
  kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[[ -n "$kpkg" ]] || { log "cannot resolve linux-image-amd64 to a kernel package"; exit 1; }
# The .deb is kept in $out/debs so that a rebuild (changed init script) downloads nothing.
mkdir -p "$out/debs"
deb=$(ls "$out/debs/${kpkg}"_*.deb 2>/dev/null | sort -V | tail -1 || true)
if [[ -z "$deb" ]]; then
  log "downloading $kpkg"
  dl() { (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$kpkg" >&2); }
  dl || { apt-get update -q >&2 && dl; }
  mv "$work"/"${kpkg}"_*.deb "$out/debs/"
  deb=$(ls "$out/debs/${kpkg}"_*.deb | sort -V | tail -1)
fi
log "unpacking $(basename "$deb")"
dpkg -x "$deb" "$work/k"

vmlinuz=$(ls "$work"/k/boot/vmlinuz-* | head -1)
kver=${vmlinuz##*/vmlinuz-}
moddir="$work/k/lib/modules/$kver"
[[ -d "$moddir" ]] || { log "no modules directory for $kver"; exit 1; }

root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,lib/modules}
cp /bin/busybox "$root/bin/busybox"
if ldd "$root/bin/busybox" >/dev/null 2>&1; then
  log "/bin/busybox is dynamically linked (is busybox-static installed?)"
  exit 1
fi
install -m 0755 "$here/guest-init.sh" "$root/init"
gcc -static -O2 -s -o "$root/bin/twgen" "$here/twgen.c"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3

{
  echo "kernel_package $kpkg"
  echo "kernel_version $kver"
  echo "deb $(basename "$deb") sha256 $(sha256sum "$deb" | cut -d' ' -f1)"
  echo "busybox $(dpkg-query -W -f='${Package} ${Version}' busybox-static)"
} > "$work/manifest.txt"

builtin_list="$moddir/modules.builtin"
: > "$root/lib/modules/order"
for m in "${modules[@]}"; do
  f=$(find "$moddir/kernel" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" \) | head -1)
  if [[ -z "$f" ]]; then
    alt=${m//_/-}
    f=$(find "$moddir/kernel" \( -name "$alt.ko" -o -name "$alt.ko.xz" \) | head -1)
  fi
  if [[ -z "$f" ]]; then
    if [[ -f "$builtin_list" ]] && grep -q "/$m.ko\$" "$builtin_list"; then
      echo "module $m built-in" >> "$work/manifest.txt"
    else
      echo "module $m absent" >> "$work/manifest.txt"
    fi
    continue
  fi
  case "$f" in
    *.ko.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -dc "$f" > "$root/lib/modules/$m.ko" ;;
    *) cp "$f" "$root/lib/modules/$m.ko" ;;
  esac
  echo "$m" >> "$root/lib/modules/order"
  echo "module $m ${f#"$moddir/"}" >> "$work/manifest.txt"
done
grep -qx virtio_net "$root/lib/modules/order" ||
  grep -q "module virtio_net built-in" "$work/manifest.txt" ||
  { log "virtio_net is neither a module nor built in"; exit 1; }

(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet -R 0:0) |
  gzip -9 > "$work/initramfs.cpio.gz"

cp "$vmlinuz" "$work/vmlinuz"
for f in vmlinuz initramfs.cpio.gz manifest.txt; do mv -f "$work/$f" "$out/$f"; done
echo "$stamp" > "$out/stamp"
log "built guest in $out ($(du -h "$out/vmlinuz" | cut -f1) kernel, $(du -h "$out/initramfs.cpio.gz" | cut -f1) initramfs)"
sed 's/^/build-guest:   /' "$out/manifest.txt" >&2
echo "$out"
