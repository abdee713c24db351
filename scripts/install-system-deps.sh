#!/usr/bin/env bash
# Installs the system packages the test suites need (PostgreSQL server, Chromium and its driver) with apt,
# when running as root on a machine that has apt. Otherwise says which suites will be skipped and why.
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages for the tests: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  exit 0
fi

echo "Cannot install ${need[*]} (needs root and apt-get). These suites will be skipped:" >&2
for pkg in "${need[@]}"; do
  case "$pkg" in
    postgresql) echo "  - PostgreSQL service tests (tests marked 'postgres'): no initdb/pg_ctl" >&2 ;;
    chromium|chromium-driver) echo "  - browser end-to-end tests (tests marked 'e2e'): no /usr/bin/chromium" >&2 ;;
  esac
done
if [ "${AICOMMONS_REQUIRE_FULL_TESTS:-0}" = "1" ]; then
  echo "AICOMMONS_REQUIRE_FULL_TESTS=1: refusing to run a partial suite." >&2
  exit 1
fi
