# Sourced by ./run and ./test: make .venv from the lock file (uv.lock) with a pinned uv.
# Needs only python3 (3.11+). uv itself lives in .tools/ unless one is already on PATH.
UV_VERSION=0.13.9

simpul_bootstrap() {
  local uv
  if command -v uv >/dev/null 2>&1 && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
    uv=uv
  else
    if [ ! -x .tools/bin/uv ] || [ "$(.tools/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
      echo "bootstrap: installing uv $UV_VERSION into .tools/" >&2
      if ! python3 -m venv .tools 2>/dev/null; then
        if [ "$(id -u)" = 0 ]; then
          apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
          python3 -m venv .tools
        else
          echo "bootstrap: python3 -m venv failed; install python3-venv" >&2; return 1
        fi
      fi
      .tools/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
    fi
    uv=.tools/bin/uv
  fi
  # Bytecode ahead of time: with PYTHONDONTWRITEBYTECODE set (common in containers) every
  # process would otherwise compile SQLAlchemy & co. from source: 3.4 s -> 1.0 s per `simpul`.
  "$uv" sync --frozen --quiet --compile-bytecode
  .venv/bin/python -m compileall -q controller captive_portal exporters lab >/dev/null
}

# Front-end libraries (htmx, Leaflet) come from npm at the versions pinned in
# controller/web/vendor/package-lock.json; they are installed, not committed.
simpul_vendor_web() {
  [ -f controller/web/static/vendor/htmx.min.js ] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    else
      echo "bootstrap: npm not found; the web UI runs without its map and live updates" >&2
      return 0
    fi
  fi
  controller/web/vendor/vendor.sh >/dev/null 2>&1 || echo "bootstrap: npm install failed; web UI runs without map" >&2
  rm -rf controller/web/vendor/node_modules
}
