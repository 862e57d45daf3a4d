#!/usr/bin/env bash
# Builds labforge's Debian package with cargo deb, installs it into this machine (as root),
# starts it, checks that /healthz answers and that `labforge hooks path` names the packaged
# scripts, then removes and purges it and checks nothing of it is left but the data folder.
# Not part of .ci/run: the release build alone takes many minutes on two cores (the book's
# "Running as a service" chapter says how and when it was last run).
#
#   bash contrib/deb/build-and-install.sh [--keep]    # --keep: leave it installed and running
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "run as root: it installs a package" >&2; exit 2; }
keep=${1:-}

# cargo-deb, cached under target/ like the book's mdbook.
tools=$PWD/target/tools
[ -x "$tools/bin/cargo-deb" ] || cargo install cargo-deb --locked --root "$tools"
export PATH=$tools/bin:$PATH

echo "== cargo deb (a release build)"
cargo deb
deb=$(ls -t target/debian/labforge_*.deb | head -n 1)
echo "== $deb"
dpkg-deb --info "$deb" | grep -E 'Depends|Package|Version'
contents=$(dpkg-deb --contents "$deb")
for f in ./usr/bin/labforge ./usr/lib/systemd/system/labforge.service \
         ./usr/share/labforge/hooks/deploy-rsync.sh ./etc/labforge/labforge.toml; do
  grep -q " $f\$" <<<"$contents" || { echo "missing from the package: $f" >&2; exit 1; }
done
# The maintainer scripts' debhelper token is filled in once, after the user is made.
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst | grep -q 'adduser --system' \
  || { echo "postinst has no adduser" >&2; exit 1; }

had_data=no
[ -e /var/lib/labforge ] && had_data=yes
echo "== install"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$PWD/$deb" >/dev/null
getent passwd labforge >/dev/null || { echo "postinst made no labforge user" >&2; exit 1; }
[ "$(stat -c %U:%a /var/lib/labforge)" = labforge:700 ] || { echo "data folder owner/mode" >&2; exit 1; }
[ "$(stat -c %U:%G:%a /etc/labforge/labforge.toml)" = root:labforge:640 ] || { echo "config owner/mode" >&2; exit 1; }
hooks=$(runuser -u labforge -- labforge --config /etc/labforge/labforge.toml hooks path)
[ "$hooks" = /usr/share/labforge/hooks ] || { echo "hooks path says $hooks" >&2; exit 1; }

port=3000
server=
if [ -d /run/systemd/system ]; then
  echo "== started by systemd (postinst)"
  systemctl is-enabled labforge
else
  # No systemd as PID 1 (a container): start it as the unit would, by hand, on a free port.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "== no systemd here: starting serve as the labforge user on port $port"
  # setpriv execs serve itself (runuser would stay its parent and report the stop as a kill).
  env -i PATH=/usr/bin:/bin HOME=/var/lib/labforge LABFORGE_HTTP_ADDR=127.0.0.1:$port \
    LABFORGE_SSH_ADDR=127.0.0.1:0 setpriv --reuid=labforge --regid=labforge --init-groups \
    labforge --config /etc/labforge/labforge.toml serve >/tmp/labforge-deb-serve.log 2>&1 &
  server=$!
fi
for i in $(seq 300); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  [ "$i" = 300 ] && { echo "healthz did not answer in 150 s" >&2; cat /tmp/labforge-deb-serve.log >&2 || true; exit 1; }
  sleep 0.5
done
echo "healthz answers on port $port"

if [ "$keep" = --keep ]; then
  echo "kept installed"; exit 0
fi
if [ -n "$server" ]; then
  kill -TERM "$server"
  wait "$server" || { echo "serve did not stop cleanly" >&2; exit 1; }
fi
echo "== remove and purge"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq labforge >/dev/null
for f in /usr/bin/labforge /usr/lib/systemd/system/labforge.service /usr/share/labforge /etc/labforge; do
  [ ! -e "$f" ] || { echo "left behind: $f" >&2; exit 1; }
done
! getent passwd labforge >/dev/null || { echo "the labforge user is left" >&2; exit 1; }
[ -d /var/lib/labforge ] && echo "kept (the users' data, by design): /var/lib/labforge"
[ "$had_data" = no ] && rm -rf /var/lib/labforge
echo "the package built, installed, answered and was removed cleanly"
