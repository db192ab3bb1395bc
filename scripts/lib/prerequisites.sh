# Installs, on Debian, what Tally's dev and test scripts run: redis-server, the
# PostgreSQL server binaries, headless Chromium with chromedriver for the browser
# tests, fusermount3 for the test kit's power-cut directory, and for the load scripts
# oha. Sourced by scripts/test, scripts/dev and the benches.

# as_root CMD...: runs CMD as root (directly, or through sudo).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

apt_updated=""
# apt_install PKG...: installs Debian packages, updating the package lists once.
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "missing $*; this is not a Debian machine: install them by hand" >&2
    return 1
  fi
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# postgres_bin_dir: prints the newest /usr/lib/postgresql/*/bin holding initdb.
postgres_bin_dir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | while read -r dir; do
    [ -x "$dir/initdb" ] && echo "$dir"
  done | tail -n 1
}

# ensure_servers: redis-server and Postgres server binaries, installed if missing.
ensure_servers() {
  if ! command -v redis-server >/dev/null; then
    echo "installing redis-server"
    apt_install redis-server
  fi
  if [ -z "$(postgres_bin_dir)" ]; then
    echo "installing postgresql"
    apt_install postgresql
  fi
  if ! command -v runuser >/dev/null; then apt_install util-linux; fi
}

# ensure_browser: Debian's headless Chromium and its chromedriver, for the browser tests
# (e2e/tests/browser.rs), installed if missing. Those tests fail, not skip, without them.
ensure_browser() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

# ensure_fuse: fusermount3 (Debian's fuse3), which mounts the test kit's power-cut
# directory (testkit/src/power_cut.rs, a FUSE filesystem served in-process, no libfuse)
# and unmounts it. The kernel's /dev/fuse can't be installed: say so when it is missing.
ensure_fuse() {
  if ! command -v fusermount3 >/dev/null; then
    echo "installing fuse3"
    apt_install fuse3
  fi
  if [ ! -c /dev/fuse ]; then
    echo "no /dev/fuse: the power-cut tests (testkit/tests/power_cut.rs) will fail" >&2
  fi
}

# ensure_oha: the HTTP load generator the benches drive, built from crates.io if
# missing, and ~/.cargo/bin on the PATH where cargo puts it.
ensure_oha() {
  export PATH="$HOME/.cargo/bin:$PATH"
  if ! command -v oha >/dev/null; then
    echo "installing oha (cargo install oha --locked)"
    cargo install oha --locked >/dev/null
  fi
}
