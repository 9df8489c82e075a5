#!/usr/bin/env bash
# The recipe of the appliance root filesystem (Debian sid + Asterisk 22 +
# DAHDI tools + Korund's Python environment), written as a zstd tarball to $1.
# Asterisk's chan_dahdi.so is rebuilt from Debian's source with the patches
# in chan_dahdi/ (chan_dahdi/build.sh; each patch says why).
# rootfs.sh caches its output under the hash of this file, packages.txt,
# chan_dahdi/ and requirements.lock: change any of them and the next run rebuilds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=$1
mirror=${KORUND_MIRROR:-http://deb.debian.org/debian}
say() { printf '[rootfs] %s\n' "$*" >&2; }

command -v mmdebstrap >/dev/null && command -v zstd >/dev/null || {
    say "installing mmdebstrap and zstd on the host"
    apt-get install -y -q mmdebstrap zstd >/dev/null
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say "downloading Python wheels for the appliance (Python 3.14)"
env -u PIP_FIND_LINKS python3 -m pip download -q --no-deps -d "$work/wheels" \
    --python-version 3.14 --only-binary=:all: \
    --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --platform any \
    -r "$top/requirements.lock"
cp "$top/requirements.lock" "$work/wheels/"

pkgs=$(grep -v '^#' "$here/packages.txt" | grep . | paste -sd, -)
chr='chroot "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root'
say "building the sid root filesystem (about 2-3 minutes; apt's progress follows)"
mmdebstrap --variant=apt \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --include="$pkgs" \
    --customize-hook='mkdir -p "$1/opt/korund/src"' \
    --customize-hook="copy-in $work/wheels /opt/korund" \
    --customize-hook="$chr python3 -m venv /opt/korund/venv" \
    --customize-hook="$chr /opt/korund/venv/bin/pip install -q --no-index --find-links /opt/korund/wheels -r /opt/korund/wheels/requirements.lock" \
    --customize-hook='echo /opt/korund/src > "$(echo "$1"/opt/korund/venv/lib/python3*/site-packages)/korund-src.pth"' \
    --customize-hook='printf "#!/bin/sh\nexec /opt/korund/venv/bin/python -m korund \"\$@\"\n" > "$1/usr/local/bin/korund"; chmod 755 "$1/usr/local/bin/korund"' \
    --customize-hook="$chr useradd --system --user-group --home-dir /var/lib/korund --no-create-home --shell /usr/sbin/nologin korund" \
    --customize-hook='ln -sfn ru_RU_f_IvrvoiceRU "$1/usr/share/asterisk/sounds/ru"' \
    --customize-hook="copy-in $here/chan_dahdi /tmp" \
    --customize-hook="$chr KORUND_MIRROR=$mirror sh /tmp/chan_dahdi/build.sh" \
    --customize-hook='rm -rf "$1/tmp/chan_dahdi"' \
    --customize-hook='rm -rf "$1/opt/korund/wheels" "$1/var/cache/apt/archives/"*.deb' \
    sid "$out" "$mirror"
