#!/bin/sh
# Rebuilds Asterisk's chan_dahdi.so from the Debian source of the installed
# Asterisk with the patches beside this script (each says why), and puts
# it in place of Debian's (dpkg-divert keeps Debian's as chan_dahdi.so.debian,
# so an upgrade of asterisk-dahdi cannot silently bring the bug back).
# Runs inside the root filesystem being built (recipe.sh); installs the
# compiler and headers it needs and purges them again.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mirror=${KORUND_MIRROR:-http://deb.debian.org/debian}
export DEBIAN_FRONTEND=noninteractive DEB_BUILD_MAINT_OPTIONS=hardening=+all
say() { printf '[chan_dahdi] %s\n' "$*" >&2; }

module=$(dpkg -L asterisk-dahdi | grep '/chan_dahdi\.so$')
version=$(dpkg-query -W -f='${Version}' asterisk-dahdi)
tools="gcc libc6-dev dpkg-dev patch xz-utils asterisk-dev libpri-dev libopenr2-dev libss7-dev libtonezone-dev"
added=""
for p in $tools; do dpkg -s "$p" >/dev/null 2>&1 || added="$added $p"; done
installed() { dpkg-query -W -f='${db:Status-Status} ${Package}\n' | awk '$1 == "installed" {print $2}' | sort; }
before=$(mktemp)
installed > "$before"

say "fetching the source of asterisk $version and the build tools"
echo "deb-src $mirror sid main" > /etc/apt/sources.list.d/korund-src.list
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $added >/dev/null
work=$(mktemp -d)
cd "$work"
apt-get source -q --download-only "asterisk=$version" >/dev/null
tar -xJf asterisk_*.orig.tar.xz --wildcards '*/channels/*dahdi*' '*/channels/sig_*'
cd asterisk-*/
for p in "$here"/*.patch; do
    say "applying $(basename "$p")"
    patch -p1 --forward --quiet < "$p"
done

say "building chan_dahdi.so"
cd channels
dahdi_include=$(ls -d /usr/src/dahdi-*/include | tail -1)
# as Asterisk's own build compiles a module (Makefile.rules, Makefile.moddir_rules)
cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS) -fPIC -pthread -D_REENTRANT -D_GNU_SOURCE"
cflags="$cflags -DLOTS_OF_SPANS -DAST_MODULE=\"chan_dahdi\" -DAST_MODULE_SELF_SYM=__internal_chan_dahdi_self"
objs=""
for c in chan_dahdi.c sig_analog.c sig_pri.c sig_ss7.c dahdi/bridge_native_dahdi.c; do
    # shellcheck disable=SC2086
    gcc $cflags -I. -I"$dahdi_include" -w -c "$c" -o "${c%.c}.o"
    objs="$objs ${c%.c}.o"
done
printf '{\n\tglobal:\n\t\t_IO_stdin_used;\n\tlocal:\n\t\t*;\n};\n' > chan_dahdi.exports
# shellcheck disable=SC2086
gcc -shared $(dpkg-buildflags --get LDFLAGS) -pthread -Wl,--version-script,chan_dahdi.exports \
    -o chan_dahdi.so $objs -lpri -lopenr2 -lss7 -ltonezone -lm
strip --strip-unneeded chan_dahdi.so

dpkg-divert --quiet --local --rename --divert "$module.debian" --add "$module"
install -m 644 chan_dahdi.so "$module"
say "installed $module (Debian's kept as $module.debian)"

cd /
rm -rf "$work" /etc/apt/sources.list.d/korund-src.list /var/lib/apt/lists/*_source_*
# shellcheck disable=SC2086
[ -z "$added" ] || apt-get purge -y -q --autoremove $added >/dev/null
# ... and what they brought that apt keeps for a recommendation (autoconf, m4...)
left=$(installed | comm -13 "$before" -)
# shellcheck disable=SC2086
[ -z "$left" ] || apt-get purge -y -q $left >/dev/null
rm -f "$before"
apt-get clean
