#!/usr/bin/env bash
# Sets up everything Hyperion needs in ./.venv on a Debian/Ubuntu machine without ROS:
# Debian packages, ROS 2 Kilted from PyPI wheels, the interface packages (vision_msgs where
# the system has none, hyperion_msgs), the project's own packages, and the detector models
# converted from TF.js (NanoDet, CenterNet).
#
# Idempotent: each step records a hash of its inputs under .venv/.hyperion/ and is skipped
# while they are unchanged, so a re-run with everything present takes a few seconds.
#
# Usage: scripts/bootstrap.sh [--test]    (--test adds the test and lint tools)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${HYPERION_VENV:-$ROOT/.venv}
STAMPS=$VENV/.hyperion
PY=$VENV/bin/python
WITH_TEST=0
[[ ${1:-} == --test ]] && WITH_TEST=1

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# Hash of the named files and directory trees (sorted, caches excluded; absent ones skipped).
hash_inputs() {
  local present=()
  for path in "$@"; do [[ -e $path ]] && present+=("$path"); done
  find "${present[@]}" -type f -not -path '*/__pycache__/*' -not -name '*.pyc' -not -path '*.egg-info*' \
    -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
}
is_current() { [[ -f $STAMPS/$1 && $(<"$STAMPS/$1") == "$2" ]]; }
mark_current() { mkdir -p "$STAMPS"; printf '%s' "$2" >"$STAMPS/$1"; }

# --- 1. Debian packages -------------------------------------------------------------------
# cmake/g++: interface builds. opencv-doc: the embedded
# surveillance clip. iproute2: network namespaces for trace-shaped links.
apt_packages=(cmake g++ make opencv-doc iproute2)
# nodejs/npm: `npm pack` fetches the detector models' package (step 7); any npm on PATH will do.
command -v npm >/dev/null || apt_packages+=(nodejs npm)
python_for_venv=$(command -v python3.11 || command -v python3 || true)
if [[ $python_for_venv == /usr/bin/* ]]; then
  apt_packages+=(python3-venv python3-dev)
fi
missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# --- 2. Virtual environment ---------------------------------------------------------------
if [[ ! -x $PY ]]; then
  [[ -n $python_for_venv ]] || { log "no python3 found"; exit 1; }
  version=$("$python_for_venv" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [[ $version != 3.11 ]]; then
    log "ROS 2 Kilted wheels are built for CPython 3.11; found $version at $python_for_venv"
    exit 1
  fi
  log "creating $VENV"
  "$python_for_venv" -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip "setuptools>=70" wheel
fi

# --- 3. Python packages -------------------------------------------------------------------
requirement_files=("$ROOT/requirements/ros.txt" "$ROOT/requirements/runtime.txt"
                   "$ROOT/requirements/models.txt")
((WITH_TEST)) && requirement_files+=("$ROOT/requirements/test.txt")
key=$(hash_inputs "${requirement_files[@]}")
if ! is_current "requirements-$WITH_TEST" "$key"; then
  log "installing Python packages (${requirement_files[*]##*/})"
  requirement_args=()
  for file in "${requirement_files[@]}"; do requirement_args+=(-r "$file"); done
  "$PY" -m pip install -q --disable-pip-version-check "${requirement_args[@]}"
  "$PY" -m pip install -q --disable-pip-version-check --no-deps -r "$ROOT/requirements/models-nodeps.txt"
  mark_current "requirements-$WITH_TEST" "$key"
fi

# --- 4. Wheel defect: exported include paths of the wheel builder ---------------------------
# The rosidl Python generator's exported CMake targets name /opt/python/cp311-cp311 include
# directories; point them at this venv's Python and numpy headers.
py_include=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_include=$("$PY" -c 'import numpy; print(numpy.get_include())')
mapfile -t broken < <(grep -rl --include='*.cmake' /opt/python/cp311-cp311 "$VENV/share" || true)
for file in "${broken[@]}"; do
  sed -i -e "s#/opt/python/cp311-cp311/include/python3.11#$py_include#g" \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_include#g" \
    "$file"
done

# --- 5. Interface packages ----------------------------------------------------------------
build_interfaces() {  # $1 = package name, $2 = source directory
  local key
  key=$(hash_inputs "$2")
  is_current "msgs-$1" "$key" && return 0
  log "building interface package $1 (about a minute)"
  local build=$ROOT/build/$1
  cmake -S "$2" -B "$build" -DCMAKE_INSTALL_PREFIX="$VENV" -DCMAKE_PREFIX_PATH="$VENV" \
    -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release >"$build.log" 2>&1 \
    && cmake --build "$build" -j "$(nproc)" >>"$build.log" 2>&1 \
    && cmake --install "$build" >>"$build.log" 2>&1 \
    || { log "building $1 failed; see $build.log"; tail -n 30 "$build.log" >&2; exit 1; }
  mark_current "msgs-$1" "$key"
}
mkdir -p "$ROOT/build"
# A system vision_msgs (a ROS 2 install) wins; the compat build is for wheel-only machines.
if [[ -f $STAMPS/msgs-vision_msgs ]] || ! "$PY" -c 'import vision_msgs' 2>/dev/null; then
  build_interfaces vision_msgs "$ROOT/compat/vision_msgs"
fi
build_interfaces hyperion_msgs "$ROOT/src/hyperion_msgs"

# --- 6. Project packages ------------------------------------------------------------------
# hyperion_core is editable (pure library). The ROS packages are installed normally, since
# their launch files, parameters and ament index markers live in share/.
key=$(hash_inputs "$ROOT/src/hyperion_core/setup.py" "$ROOT/src/hyperion_edge" \
  "$ROOT/src/hyperion_cloud" "$ROOT/src/hyperion" "$ROOT/launch" "$ROOT/config")
if ! is_current packages "$key"; then
  log "installing the Hyperion packages"
  "$PY" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
    -e "$ROOT/src/hyperion_core"
  "$PY" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
    "$ROOT/src/hyperion_edge" "$ROOT/src/hyperion_cloud" "$ROOT/src/hyperion"
  rm -rf "$ROOT"/src/*/build
  mark_current packages "$key"
fi
# --- 7. Detector models ------------------------------------------------------------------
# NanoDet and CenterNet from the pinned npm package, SHA-512-checked and converted to ONNX in
# $HYPERION_MODEL_DIR or $VENV/share/hyperion/models (first run: about a minute). The record
# next to each model (<name>.onnx.json: converter fingerprint, tarball integrity, file hash)
# is this step's stamp, checked by the installer itself in a fraction of a second, so a
# changed converter or a deleted model is redone and nothing else is.
"$PY" -m hyperion_core.models.tfjs.install || { log "installing the detector models failed"; exit 1; }
log "ready: $VENV"
