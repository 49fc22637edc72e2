#!/bin/sh
# Installs the Debian packages the project needs, when they are missing and we may.
# Arguments: any of `wordnet` (WordNet 3.0 for nltk), `chromium` (the browser tests) and
# `nginx` (the reverse proxy test, tests/survey_app/test_proxy.py).
set -eu
missing=""
for want in "$@"; do
    case "$want" in
        wordnet) [ -f /usr/share/wordnet/index.sense ] || missing="$missing wordnet-base wordnet-sense-index" ;;
        chromium) [ -x /usr/bin/chromium ] || missing="$missing chromium" ;;
        nginx) [ -x /usr/sbin/nginx ] || missing="$missing nginx" ;;
        *) echo "system-deps.sh: unknown component '$want'" >&2; exit 2 ;;
    esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps.sh: please install these Debian packages:$missing (continuing without them)" >&2
    exit 0
fi
echo "Installing Debian packages:$missing"
# Another apt (unattended upgrades on a fresh machine) may hold the dpkg lock:
# wait for it, up to five minutes, rather than fail at once.
apt-get -o DPkg::Lock::Timeout=300 update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq $missing >/dev/null
