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
  simpul_routeros_model
}

# Front-end libraries (htmx, Leaflet) come from npm at the versions pinned in
# controller/web/vendor/package-lock.json; they are installed, not committed.
simpul_vendor_web() {
  cmp -s controller/web/vendor/package-lock.json controller/web/static/vendor/.package-lock.json \
    && return 0
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

# The RouterOS model (controller/devices/routeros_model.py) is community.routeros's
# plugins/module_utils/_api_data.py, read from the pinned `ansible` wheel (not installed, not
# committed): pip downloads the wheel, its sha256 is checked, and only that one file is kept.
ROUTEROS_MODEL_WHEEL=ansible==12.3.0
ROUTEROS_MODEL_SHA256=cd156f82fa87f7a899212b0efa9f7ca3a24d609212de9f78428a572eb01e5414
ROUTEROS_MODEL_MEMBER=ansible_collections/community/routeros/plugins/module_utils/_api_data.py

simpul_routeros_model() {
  local dir=.tools/routeros stamp="$ROUTEROS_MODEL_WHEEL $ROUTEROS_MODEL_SHA256"
  if [ -f "$dir/_api_data.py" ] && [ "$(cat "$dir/STAMP" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/simpul/wheels" pip
  mkdir -p "$dir" "$cache"
  if python3 -m pip --version >/dev/null 2>&1; then pip="python3 -m pip"
  elif [ -x .tools/bin/python ]; then pip=".tools/bin/python -m pip"
  else echo "bootstrap: no pip to fetch $ROUTEROS_MODEL_WHEEL (the RouterOS model)" >&2; return 1; fi
  local wheel
  wheel=$(ls "$cache"/ansible-12.3.0-py3-none-any.whl 2>/dev/null || true)
  if [ -z "$wheel" ] || ! echo "$ROUTEROS_MODEL_SHA256  $wheel" | sha256sum -c --quiet - 2>/dev/null; then
    echo "bootstrap: fetching $ROUTEROS_MODEL_WHEEL (RouterOS model, 54 MB, once)" >&2
    if ! $pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
        -d "$cache" "$ROUTEROS_MODEL_WHEEL" >&2; then
      echo "bootstrap: FAILED to fetch $ROUTEROS_MODEL_WHEEL; the RouterOS model is needed" >&2
      return 1
    fi
    wheel="$cache/ansible-12.3.0-py3-none-any.whl"
  fi
  if ! echo "$ROUTEROS_MODEL_SHA256  $wheel" | sha256sum -c --quiet - >/dev/null 2>&1; then
    echo "bootstrap: $wheel does not match the pinned sha256; refusing it" >&2
    rm -f "$wheel"; return 1
  fi
  python3 - "$wheel" "$ROUTEROS_MODEL_MEMBER" "$dir" "$ROUTEROS_MODEL_WHEEL" <<'PY' || return 1
import json, sys, zipfile
wheel, member, out, pin = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    data = z.read(member)
    manifest = json.loads(z.read("ansible_collections/community/routeros/MANIFEST.json"))
version = manifest["collection_info"]["version"]
open(f"{out}/_api_data.py", "wb").write(data)
open(f"{out}/ORIGIN", "w").write(f"community.routeros {version} from {pin}\n")
PY
  echo "$stamp" > "$dir/STAMP"
}
