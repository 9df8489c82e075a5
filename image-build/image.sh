#!/usr/bin/env bash
# The bootable appliance disk image, made from the same recipe as the
# root filesystem (image-build/recipe.sh is the one definition of what is on a
# Korund box) plus the packages in image-build/image-packages.txt.
#
#   image-build/image.sh build    build or reuse the base image, assemble the disk
#   image-build/image.sh base     build or reuse only the base image tarball
#   image-build/image.sh dir      print the output folder (disk.img, disk.qcow2, vmlinuz, initrd.img)
#   image-build/image.sh key      print the base image's hash
#   image-build/image.sh srcdisk OUT   an ext4 disk (label korund-src) of the checkout's files
#
# Two stages:
#  1. the base image, the expensive part (mmdebstrap + dkms, a few minutes):
#     recipe.sh runs unchanged from a staging folder whose packages.txt is
#     packages.txt + image-packages.txt (recipe.sh reads the lists beside
#     itself), so the plain root filesystem's recipe and cache key stay as they
#     are. Then, in the unpacked tree: the DAHDI modules dkms built are packed
#     into a local package (korund-dahdi-modules, which provides dahdi-dkms),
#     and dkms, gcc, make and the kernel headers are purged. The result is
#     cached as $KORUND_CACHE/image-<hash>.tar.zst, the hash covering
#     recipe.sh, packages.txt, chan_dahdi/, image-packages.txt, requirements.lock and this
#     script.
#  2. the disk, assembled from the base each time (well under a minute): the
#     checkout's files -- the working tree's tracked and untracked-but-not-
#     ignored files, i.e. what `git add -A` would commit -- at /opt/korund/src,
#     the systemd units and first-boot script of image-build/guest/, then
#     `mkfs.ext4 -d` into $KORUND_CACHE/image-<hash>/disk.img (raw, label
#     korund-root), disk.qcow2, and the kernel and initrd copied out of /boot.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cache=${KORUND_CACHE:-/var/cache/korund}
mirror=${KORUND_MIRROR:-http://deb.debian.org/debian}
disk_size=${KORUND_DISK_SIZE:-3G}
export KORUND_MIRROR=$mirror

say() { printf '[image] %s\n' "$*" >&2; }

image_key() {
    # image.sh counts up to the assembly marker: the assembly below it runs on
    # every build anyway, so changing it needs no new base.
    { cat "$here/recipe.sh" "$here/packages.txt" "$here"/chan_dahdi/* "$here/image-packages.txt" \
          "$top/requirements.lock"
      sed '/^#### assembly/q' "$here/image.sh"; } \
        | { cat; echo "$mirror sid"; } | sha256sum | cut -c1-16
}

key=$(image_key)
tarball=$cache/image-$key.tar.zst
out=$cache/image-$key

tarball_ok() {
    [ -s "$tarball" ] && [ -s "$tarball.sha256" ] || return 1
    (cd "$cache" && sha256sum --quiet -c "$(basename "$tarball").sha256") >/dev/null 2>&1
}

in_root() {  # in_root ROOT CMD...: run CMD in the unpacked tree with a clean environment
    local root=$1; shift
    chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

mount_pseudo() {
    mount -t proc proc "$1/proc"
    mount --rbind /dev "$1/dev"
    mount -t tmpfs tmpfs "$1/tmp"
}

umount_pseudo() {
    local m
    for m in tmp dev proc; do
        if mountpoint -q "$1/$m" 2>/dev/null; then umount -R -l "$1/$m"; fi
    done
}

# Replace dahdi-dkms by a package of the modules it built, purge the toolchain.
strip_toolchain() {
    local root=$1 kver mods ver pkg
    kver=$(ls "$root/lib/modules")
    [ "$(echo "$kver" | wc -l)" = 1 ] || { say "expected one kernel, found: $kver"; return 1; }
    [ -e "$root/boot/vmlinuz-$kver" ] || { say "no kernel /boot/vmlinuz-$kver"; return 1; }
    mods=$root/lib/modules/$kver/updates/dkms
    for m in dahdi dahdi_dynamic dahdi_dynamic_loc; do
        ls "$mods/$m.ko"* >/dev/null 2>&1 || { say "dkms did not build $m for $kver"; return 1; }
    done
    ver=$(in_root "$root" dpkg-query -W -f '${Version}' dahdi-dkms)
    pkg=$root/tmp/korund-dahdi-modules
    mkdir -p "$pkg/DEBIAN" "$pkg/lib/modules/$kver/updates/dkms"
    cp -a "$mods/." "$pkg/lib/modules/$kver/updates/dkms/"
    cat > "$pkg/DEBIAN/control" <<EOF
Package: korund-dahdi-modules
Version: $ver+korund1
Architecture: amd64
Maintainer: Korund <korund@localhost>
Provides: dahdi-dkms
Conflicts: dahdi-dkms
Replaces: dahdi-dkms
Depends: linux-image-$kver
Section: kernel
Priority: optional
Description: DAHDI kernel modules built by dkms for $kver
 The modules dahdi-dkms $ver built at image build time, kept without the
 compiler and kernel headers that built them.
EOF
    in_root "$root" dpkg-deb --root-owner-group -b /tmp/korund-dahdi-modules /tmp/korund-dahdi-modules.deb >/dev/null
    say "replacing dahdi-dkms by korund-dahdi-modules $ver+korund1; purging dkms, gcc and headers"
    in_root "$root" dpkg --purge --force-depends dahdi-dkms >/dev/null
    in_root "$root" dpkg -i /tmp/korund-dahdi-modules.deb >/dev/null
    # Recommends keep a compiler "important" (libc6-dev, dpkg-dev): name them
    # and let autoremove ignore Recommends, so only the build chain goes.
    in_root "$root" apt-get purge -y -q \
        -o APT::AutoRemove::RecommendsImportant=false -o APT::AutoRemove::SuggestsImportant=false \
        --autoremove dkms linux-headers-amd64 "linux-headers-$kver" \
        "linux-headers-${kver%-amd64}-common" "linux-kbuild-${kver%-amd64}" \
        gcc cpp make dpkg-dev libc6-dev binutils linux-libc-dev >/dev/null
    in_root "$root" apt-get check >/dev/null
    local left
    left=$(in_root "$root" dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' \
        | awk '$1 == "ii" && $2 ~ /^(gcc|gcc-[0-9]+|cpp|make|dkms|binutils|libc6-dev|linux-headers-.*)$/ { print $2 }')
    if [ -n "$left" ]; then say "still installed after the purge: $left"; return 1; fi
    for p in asterisk asterisk-dahdi dahdi dahdi-linux "linux-image-$kver" python3; do
        in_root "$root" dpkg-query -W -f '${db:Status-Abbrev}\n' "$p" | grep -q '^ii' \
            || { say "the purge took $p with it"; return 1; }
    done
    rm -rf "$root/usr/src/"* "$root/var/lib/dkms"
    in_root "$root" depmod -a "$kver"
    in_root "$root" modinfo -k "$kver" dahdi_dynamic_loc >/dev/null
    in_root "$root" apt-get clean
    rm -rf "$root/var/lib/apt/lists/"*
}

build_base() {
    if tarball_ok; then say "cached: $tarball"; return 0; fi
    rm -f "$tarball" "$tarball.sha256"
    mkdir -p "$cache"
    local work root
    work=$(mktemp -d "$cache/image-build.XXXXXX")
    root=$work/root
    # shellcheck disable=SC2064
    trap "umount_pseudo '$root'; rm -rf '$work'" EXIT
    mkdir -p "$work/stage/image-build"
    ln -s "$here/recipe.sh" "$work/stage/image-build/recipe.sh"
    cp -r "$here/chan_dahdi" "$work/stage/image-build/chan_dahdi"
    cat "$here/packages.txt" "$here/image-packages.txt" > "$work/stage/image-build/packages.txt"
    ln -s "$top/requirements.lock" "$work/stage/requirements.lock"
    say "building the base image with recipe.sh (packages.txt + image-packages.txt)"
    "$work/stage/image-build/recipe.sh" "$work/base.tar.zst"
    mkdir -p "$root"
    tar --zstd -xpf "$work/base.tar.zst" -C "$root"
    rm -f "$work/base.tar.zst"
    mount_pseudo "$root"
    strip_toolchain "$root"
    umount_pseudo "$root"
    say "packing $tarball"
    tar --zstd -cpf "$work/image.tar.zst" -C "$root" .
    (cd "$work" && sha256sum image.tar.zst | sed "s/image.tar.zst/$(basename "$tarball")/" > sha)
    mv "$work/image.tar.zst" "$tarball"
    mv "$work/sha" "$tarball.sha256"
    rm -rf "$work"
    trap - EXIT
    # Older bases and their disks are stale; a VM may still be booting one, so
    # only those untouched for a day go.
    find "$cache" -maxdepth 1 -name 'image-*' ! -name "image-$key*" -mmin +1440 -exec rm -rf {} +
    say "built $tarball ($(du -h "$tarball" | cut -f1))"
}

#### assembly: everything below runs on each build and is not in the base's key ####

# The checkout's files (what `git add -A` would commit) copied into $1.
copy_checkout() {
    mkdir -p "$1"
    (cd "$top" && git ls-files -z -c -o --exclude-standard \
        | while IFS= read -r -d '' f; do [ -f "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf -) | tar -xf - -C "$1"
}

install_guest() {
    local root=$1 g=$here/guest
    copy_checkout "$root/opt/korund/src"
    install -m 644 "$g"/*.service "$root/etc/systemd/system/"
    install -m 755 "$g/korund-firstboot" "$g/korund-dahdi" "$g/korund-test-mounts" "$g/korund-demo" "$root/usr/local/sbin/"
    install -m 644 "$g/modprobe-dahdi.conf" "$root/etc/modprobe.d/korund-dahdi.conf"
    install -d "$root/etc/systemd/network"
    install -m 644 "$g/20-dhcp.network" "$root/etc/systemd/network/"
    install -m 644 "$g/fstab" "$root/etc/fstab"
    mkdir -p "$root/var/korund-out"
    echo korund > "$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tkorund\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
    # First boot: a fresh machine id, hostname and instance on each written disk.
    : > "$root/etc/machine-id"
    rm -f "$root/var/lib/korund/.firstboot-done"
    echo KORUND_DAHDI_ETC=/etc/dahdi >> "$root/etc/environment"
    in_root "$root" systemctl enable -q korund-dahdi.service korund.service korund-firstboot.service \
        korund-test-mounts.service korund-test.service korund-demo.service systemd-networkd.service \
        2>/dev/null
    # Byte-compiled once here rather than by every service at every boot.
    in_root "$root" /opt/korund/venv/bin/python -m compileall -q -j 2 /opt/korund/src >/dev/null || true
    # The spoken prompts and the music on hold are the same on every machine:
    # made here, so the first boot's `korund init` finds them (it re-makes only
    # those whose text changed). No database and no secrets are made here.
    mount -t proc proc "$root/proc"
    in_root "$root" /opt/korund/venv/bin/python -c 'from appliance.prompts import builtin, moh
from appliance.base.instance import Instance
inst = Instance.at("/var/lib/korund/appliance")
builtin.build(inst.sounds)
moh.generate(inst)' || { umount "$root/proc"; say "could not make the prompts"; return 1; }
    umount "$root/proc"
    [ ! -e "$root/var/lib/korund/appliance/korund.db" ] || { say "a database in the image"; return 1; }
    # Nothing to update at first boot (ldconfig, journal catalog: ConditionNeedsUpdate).
    in_root "$root" ldconfig
    touch "$root/etc/.updated" "$root/var/.updated"
    in_root "$root" systemctl mask -q apt-daily.timer apt-daily-upgrade.timer 2>/dev/null || true
    # asterisk's own unit would start a second Asterisk: Korund's supervisord runs it.
    in_root "$root" systemctl disable -q asterisk.service 2>/dev/null || true
    in_root "$root" systemctl mask -q asterisk.service dahdi.service 2>/dev/null || true
}

assemble() {
    build_base
    local work root kver t0=$SECONDS
    mkdir -p "$out"
    work=$(mktemp -d "$cache/image-build.XXXXXX")
    root=$work/root
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    mkdir -p "$root"
    tar --zstd -xpf "$tarball" -C "$root"
    install_guest "$root"
    kver=$(ls "$root/lib/modules")
    cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
    cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
    rm -f "$work/disk.img"
    mkfs.ext4 -q -L korund-root -E root_owner=0:0 -d "$root" "$work/disk.img" "$disk_size" >/dev/null
    qemu-img convert -O qcow2 "$work/disk.img" "$work/disk.qcow2"
    (cd "$top" && git describe --always --dirty 2>/dev/null || echo unknown) > "$work/source-version"
    mv "$work/disk.img" "$work/disk.qcow2" "$work/vmlinuz" "$work/initrd.img" "$work/source-version" "$out/"
    rm -rf "$work"
    trap - EXIT
    say "assembled in $((SECONDS - t0)) s: $out/{disk.img,disk.qcow2,vmlinuz,initrd.img}"
    say "sizes: base $(du -h "$tarball" | cut -f1), raw $(du -h --apparent-size "$out/disk.img" | cut -f1) ($(du -h "$out/disk.img" | cut -f1) used), qcow2 $(du -h "$out/disk.qcow2" | cut -f1)"
}

srcdisk() {
    local dest=$1 work
    work=$(mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    copy_checkout "$work/src"
    (cd "$top" && git describe --always --dirty 2>/dev/null || echo unknown) > "$work/src/.korund-source"
    rm -f "$dest"
    mkfs.ext4 -q -L korund-src -E root_owner=0:0 -d "$work/src" "$dest" 512M >/dev/null
    rm -rf "$work"
    trap - EXIT
}

command -v qemu-img >/dev/null && command -v mkfs.ext4 >/dev/null || {
    say "installing qemu-utils and e2fsprogs on the host"
    apt-get install -y -q qemu-utils e2fsprogs >/dev/null
}

main() {
    case "${1:-}" in
        build) assemble ;;
        base) build_base ;;
        dir) echo "$out" ;;
        key) echo "$key" ;;
        srcdisk) srcdisk "${2:?usage: $0 srcdisk OUT}" ;;
        *) echo "usage: $0 build|base|dir|key|srcdisk OUT" >&2; exit 2 ;;
    esac
}
# One line, so that editing this file while a build runs cannot change what it does next.
main "$@"; exit $?
