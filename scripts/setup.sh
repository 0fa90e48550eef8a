#!/usr/bin/env bash
# `npm run setup`: everything psi-lab needs on a fresh Debian machine with Node 20.
#   1. Debian packages the tests use, only when missing: sip-tester (SIPp), stunnel4, openssl,
#      the attackers' tools the security suite plays: sipvicious (svcrack...), sslscan,
#      the clients the interop suite signs in with: baresip, linphone-cli (linphonec),
#      chromium (sip.js and JsSIP in a real browser, driven by playwright-core), and sipsak
#      (apt-get as root, or through sudo without a password prompt; says what it does)
#   2. npm ci
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

missing=()
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
{ command -v stunnel4 >/dev/null 2>&1 || command -v stunnel >/dev/null 2>&1; } || missing+=(stunnel4)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v svcrack >/dev/null 2>&1 || missing+=(sipvicious)
command -v sslscan >/dev/null 2>&1 || missing+=(sslscan)
command -v baresip >/dev/null 2>&1 || missing+=(baresip)
command -v linphonec >/dev/null 2>&1 || missing+=(linphone-cli)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v sipsak >/dev/null 2>&1 || missing+=(sipsak)
if ((${#missing[@]} > 0)); then
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then as_root=(sudo -n); fi   # -n: never wait for a password (no stdin in CI)
  "${as_root[@]}" apt-get update
  "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
else
  echo "setup: sipp, stunnel, openssl, sipvicious, sslscan, baresip, linphonec, chromium and sipsak are installed"
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund </dev/null
