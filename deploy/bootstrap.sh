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
  "$uv" sync --frozen --quiet
}
