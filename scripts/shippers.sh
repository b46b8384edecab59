#!/usr/bin/env bash
# Installs (when missing) the log shippers the end-to-end shipper tests drive, from Debian's
# packages: rsyslog with omelasticsearch (installed; its service is not started by the tests),
# and syslog-ng with its HTTP module and SCL, unpacked under target/shippers/syslog-ng because
# Debian's syslog-ng-core and rsyslog conflict (both are a system-log-daemon). Prints nothing
# when both are there.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
# Tests run in parallel and each calls this script: one installs, the others wait for it.
mkdir -p target/shippers
exec 9>target/shippers/.lock
flock 9
ensure_apt rsyslog rsyslog-elasticsearch
# syslog-ng's shared libraries (its package's dependencies, which do not conflict).
ensure_apt libivykis0 libnet1 libjson-c5 libglib2.0-0 libpcre3 libwrap0 libcap2 libcurl4
dir=target/shippers/syslog-ng
if [ -x "$dir/usr/sbin/syslog-ng" ] && [ -f "$dir/usr/lib/syslog-ng/3.38/libhttp.so" ]; then
  exit 0
fi
log "unpacking syslog-ng into $dir"
mkdir -p "$dir" target/shippers/debs
(cd target/shippers/debs && apt-get download -qq syslog-ng-core syslog-ng-mod-http syslog-ng-scl 2>/dev/null)
for deb in target/shippers/debs/syslog-ng-*.deb; do
  dpkg -x "$deb" "$dir"
done
