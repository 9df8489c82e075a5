#!/usr/bin/env bash
# The appliance root filesystem: the single definition of what is on a Korund box.
#
#   image-build/rootfs.sh build   build the tarball once, cached by recipe hash
#   image-build/rootfs.sh root    print the unpacked root (unpacks if needed)
#   image-build/rootfs.sh mount   bind /proc, /dev and the checkout into the root
#   image-build/rootfs.sh umount  undo 'mount'
#   image-build/rootfs.sh key     print the recipe hash
#   image-build/rootfs.sh exec CMD...  run CMD inside the mounted root
#
# The tarball lives in $KORUND_CACHE (default /var/cache/korund) as
# rootfs-<hash>.tar.zst with a .sha256 beside it; a tarball whose checksum does
# not match is treated as absent and rebuilt. The unpacked tree lives in
# $KORUND_VAR (default /var/lib/korund)/rootfs-<hash> and carries a stamp file
# written only after a complete unpack.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
cache=${KORUND_CACHE:-/var/cache/korund}
var=${KORUND_VAR:-/var/lib/korund}
mirror=${KORUND_MIRROR:-http://deb.debian.org/debian}
suite=sid
export KORUND_MIRROR=$mirror

say() { printf '[rootfs] %s\n' "$*" >&2; }

recipe_key() {
    # Everything that decides what ends up in the tarball.
    cat "$here/recipe.sh" "$here/packages.txt" "$here"/chan_dahdi/* "$top/requirements.lock" \
        | { cat; echo "$mirror $suite"; } | sha256sum | cut -c1-16
}

key=$(recipe_key)
tarball=$cache/rootfs-$key.tar.zst
root=$var/rootfs-$key
stamp=$root/.korund-rootfs

tarball_ok() {
    [ -s "$tarball" ] && [ -s "$tarball.sha256" ] || return 1
    say "checking $tarball"
    (cd "$cache" && sha256sum --quiet -c "$(basename "$tarball").sha256") >/dev/null 2>&1
}

build() {
    if tarball_ok; then say "cached: $tarball"; return 0; fi
    # One build at a time: a second caller (another test run, make run)
    # waits for the first and then takes its tarball.
    mkdir -p "$cache"
    exec 9>"$cache/.build.lock"
    if ! flock -n 9; then
        say "another build of the root filesystem is running; waiting for it"
        flock 9
    fi
    local rc=0
    tarball_ok && say "cached: $tarball" || build_locked || rc=$?
    exec 9>&-
    return $rc
}

build_locked() {
    rm -f "$tarball" "$tarball.sha256"
    local work; work=$(mktemp -d "$cache/build.XXXXXX")
    if ! "$here/recipe.sh" "$work/rootfs.tar.zst"; then
        rm -rf "$work"
        say "the build failed; nothing was cached"
        return 1
    fi
    (cd "$work" && sha256sum rootfs.tar.zst | sed "s/rootfs.tar.zst/$(basename "$tarball")/" > sha)
    mv "$work/rootfs.tar.zst" "$tarball"
    mv "$work/sha" "$tarball.sha256"
    rm -rf "$work"
    # Older recipes' tarballs are stale: keep the cache to the current one.
    find "$cache" -maxdepth 1 -name 'rootfs-*.tar.zst*' ! -name "rootfs-$key.*" -delete
    say "built $tarball ($(du -h "$tarball" | cut -f1))"
}

unpack() {
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then return 0; fi
    build
    do_umount
    if has_mounts "$root"; then say "$root still has mounts; not replacing it"; return 1; fi
    rm -rf "$root"
    mkdir -p "$root"
    say "unpacking into $root"
    tar --zstd -xpf "$tarball" -C "$root"
    echo "$key" > "$stamp"
    for old in "$var"/rootfs-*; do
        [ "$old" = "$root" ] || [ ! -d "$old" ] && continue
        # Never delete through a mount (the checkout is bind-mounted inside).
        has_mounts "$old" || rm -rf "$old"
    done
}

is_mounted() { mountpoint -q "$1" 2>/dev/null; }
has_mounts() { awk -v d="$1/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/mounts; }

do_mount() {
    unpack
    is_mounted "$root/proc" || mount -t proc proc "$root/proc"
    is_mounted "$root/dev" || mount --rbind /dev "$root/dev"
    mkdir -p "$root/opt/korund/src"
    # The root runs the code of the checkout this script belongs to.
    if is_mounted "$root/opt/korund/src" &&
        [ "$(stat -c %d:%i "$top")" != "$(stat -c %d:%i "$root/opt/korund/src")" ]; then
        say "switching $root/opt/korund/src to $top"
        umount -l "$root/opt/korund/src"
    fi
    is_mounted "$root/opt/korund/src" || mount --bind "$top" "$root/opt/korund/src"
    # The appliance's own data (database, recordings, generated config) lives
    # outside the unpacked tree, so it survives a rebuilt root filesystem.
    mkdir -p "$var/data" "$root/var/lib/korund"
    is_mounted "$root/var/lib/korund" || mount --bind "$var/data" "$root/var/lib/korund"
    # The chroot resolves loopback names like the host does.
    cp /etc/hosts "$root/etc/hosts"
}

do_umount() {
    for m in opt/korund/src var/lib/korund dev proc; do
        if is_mounted "$root/$m"; then umount -R -l "$root/$m"; fi
    done
    return 0
}

case "${1:-}" in
    build) build ;;
    root) unpack; echo "$root" ;;
    mount) do_mount; echo "$root" ;;
    umount) do_umount ;;
    key) echo "$key" ;;
    exec)
        shift
        do_mount >/dev/null
        exec chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 "$@" ;;
    *) echo "usage: $0 build|root|mount|umount|key|exec CMD..." >&2; exit 2 ;;
esac
