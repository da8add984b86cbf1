#!/usr/bin/env bash
# System packages the test suite runs real servers with: mosquitto (MQTT broker), mosquitto-clients.
# Best effort and idempotent: without root (or passwordless sudo) it prints what is missing and the
# tests that need it fall back (MQTT: the pure-Python amqtt broker) or report why they cannot run.
set -u
want=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || want+=(mosquitto)
# mosquitto_pub: the C publisher of benchmarks/ingest_live.py (it falls back to paho without it)
command -v mosquitto_pub >/dev/null 2>&1 || want+=(mosquitto-clients)
[ ${#want[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else
  echo "install-system-deps: not root; please install: ${want[*]} (tests use fallbacks meanwhile)" >&2
  exit 0
fi
echo "install-system-deps: installing ${want[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null 2>&1 \
  || { $sudo apt-get update -qq >/dev/null 2>&1 && $sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null 2>&1; } \
  || echo "install-system-deps: could not install ${want[*]}; tests use fallbacks" >&2
exit 0
