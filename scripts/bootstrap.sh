#!/usr/bin/env bash
# Sets up everything Hyperion needs, on a machine without ROS or with a ROS 2 distribution:
#   - Debian packages;
#   - ./.venv, the ROS 2 underlay: without ROS, ROS 2 Kilted from PyPI wheels and vision_msgs
#     built from compat/; with a distribution sourced (Humble, Jazzy, Kilted: ROS_DISTRO set),
#     the distribution itself, seen through a venv with its system site-packages;
#   - the colcon workspace in ./install: `colcon build --symlink-install`, the command a ROS
#     user runs (hyperion_msgs, hyperion_core, hyperion_runtime, hyperion_edge,
#     hyperion_cloud, hyperion; executables in install/<pkg>/lib/<pkg>);
#   - the detector models converted from TF.js (NanoDet, CenterNet).
# Afterwards `. .venv/bin/activate` sets up a shell: it sources install/setup.sh, which
# chains the underlay (the same as `source install/setup.bash` on a ROS machine).
#
# Idempotent: each step records a hash of its inputs under .venv/.hyperion/ and is skipped
# while they are unchanged, so a re-run with everything present takes a few seconds.
#
# Usage: scripts/bootstrap.sh [--test]
#   --test adds the test and lint tools, and the real ROS 2 command-line tools (ros2 launch,
#   topic, node, param, lifecycle, interface; launch_testing, launch_pytest) from
#   $HYPERION_ROS2_CLI (default ../shared/vendor/ros2-cli) where that folder exists.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${HYPERION_VENV:-$ROOT/.venv}
STAMPS=$VENV/.hyperion
PY=$VENV/bin/python
WITH_TEST=0
[[ ${1:-} == --test ]] && WITH_TEST=1
ROS2_CLI=${HYPERION_ROS2_CLI:-$ROOT/../shared/vendor/ros2-cli}
# A sourced ROS 2 distribution is the underlay; otherwise the venv's PyPI wheels are.
SYSTEM_ROS=
[[ -n ${ROS_DISTRO:-} && -d /opt/ros/${ROS_DISTRO:-none} ]] && SYSTEM_ROS=$ROS_DISTRO

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
# nodejs/npm: `npm pack` fetches the detector models' package (step 9); any npm on PATH will do.
command -v npm >/dev/null || apt_packages+=(nodejs npm)
if [[ -n $SYSTEM_ROS ]]; then
  python_for_venv=/usr/bin/python3  # the distribution's Python, whose rclpy it ships
else
  python_for_venv=$(command -v python3.11 || command -v python3 || true)
fi
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
  venv_args=()
  if [[ -n $SYSTEM_ROS ]]; then
    venv_args=(--system-site-packages)  # rclpy and the message packages of /opt/ros
  elif [[ $version != 3.11 ]]; then
    log "ROS 2 Kilted wheels are built for CPython 3.11; found $version at $python_for_venv"
    exit 1
  fi
  log "creating $VENV${SYSTEM_ROS:+ over ROS 2 $SYSTEM_ROS}"
  "$python_for_venv" -m venv "${venv_args[@]}" "$VENV"
  "$PY" -m pip install -q --upgrade pip "setuptools>=70" wheel
fi
# colcon must not take the venv's share/*/package.xml for packages of the workspace.
touch "$VENV/COLCON_IGNORE"

# --- 3. Python packages -------------------------------------------------------------------
requirement_files=("$ROOT/requirements/build.txt" "$ROOT/requirements/runtime.txt"
                   "$ROOT/requirements/models.txt")
[[ -z $SYSTEM_ROS ]] && requirement_files+=("$ROOT/requirements/ros.txt")
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

# --- 5. The underlay's environment ----------------------------------------------------------
# Without a distribution the venv is the underlay, and $VENV/local_setup.sh is to it what
# /opt/ros/<distro>/local_setup.sh is to a ROS install: colcon chains it into
# install/setup.sh. bin/activate sources the workspace (the underlay before the first build).
if [[ -z $SYSTEM_ROS ]]; then
  sed "s#@VENV@#$VENV#g" >"$VENV/local_setup.sh" <<'EOF'
# ROS 2 Kilted from PyPI wheels in this venv as a ROS underlay (written by scripts/bootstrap.sh)
_hyperion_prepend() {  # $1 = variable, $2 = path; no duplicates
  eval "_hyperion_value=\${$1:-}"
  case ":$_hyperion_value:" in
    *":$2:"*) ;;
    *) eval "export $1=\"$2\${_hyperion_value:+:\$_hyperion_value}\"" ;;
  esac
}
_hyperion_prepend AMENT_PREFIX_PATH "@VENV@"
_hyperion_prepend CMAKE_PREFIX_PATH "@VENV@"
_hyperion_prepend PATH "@VENV@/bin"
unset -f _hyperion_prepend
unset _hyperion_value
EOF
  for shell in bash zsh; do printf '. "%s/local_setup.sh"\n' "$VENV" >"$VENV/local_setup.$shell"; done
fi
hook_start='# >>> the hyperion workspace, added by bootstrap.sh >>>'
hook_end='# <<< the hyperion workspace <<<'
sed -i "/^$hook_start\$/,/^$hook_end\$/d" "$VENV/bin/activate"
cat >>"$VENV/bin/activate" <<EOF
$hook_start
if [ -f "$ROOT/install/setup.sh" ]; then . "$ROOT/install/setup.sh"
elif [ -f "$VENV/local_setup.sh" ]; then . "$VENV/local_setup.sh"; fi
$hook_end
EOF
# This script's own environment: the underlay, as the builds below need it.
if [[ -z $SYSTEM_ROS ]]; then
  set +u; . "$VENV/local_setup.sh"; set -u
fi
export VIRTUAL_ENV=$VENV PATH=$VENV/bin:$PATH

# --- 6. vision_msgs where the underlay has none -------------------------------------------
# A distribution's vision_msgs wins; the compat build is for wheel-only machines. It goes
# into the underlay (the venv), where rosdep would install it on a ROS machine.
build_interfaces() {  # $1 = package name, $2 = source directory
  local key
  key=$(hash_inputs "$2")
  is_current "msgs-$1" "$key" && return 0
  log "building interface package $1 (about a minute)"
  local build=$STAMPS/build/$1
  mkdir -p "$STAMPS/build"
  cmake -S "$2" -B "$build" -DCMAKE_INSTALL_PREFIX="$VENV" -DCMAKE_PREFIX_PATH="$VENV" \
    -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release >"$build.log" 2>&1 \
    && cmake --build "$build" -j "$(nproc)" >>"$build.log" 2>&1 \
    && cmake --install "$build" >>"$build.log" 2>&1 \
    || { log "building $1 failed; see $build.log"; tail -n 30 "$build.log" >&2; exit 1; }
  mark_current "msgs-$1" "$key"
}
if [[ -f $STAMPS/msgs-vision_msgs ]] || ! "$PY" -c 'import vision_msgs' 2>/dev/null; then
  build_interfaces vision_msgs "$ROOT/compat/vision_msgs"
fi

# Earlier versions of this script installed the workspace's packages into the venv itself;
# a copy left there would shadow install/ (libraries, ament index, console scripts).
if [[ -f $STAMPS/msgs-hyperion_msgs || -f $STAMPS/packages ]]; then
  log "removing the Hyperion packages an earlier bootstrap installed into $VENV"
  "$PY" -m pip uninstall -q -y hyperion hyperion-edge hyperion-cloud >/dev/null 2>&1 || true
  manifest=$ROOT/build/hyperion_msgs/install_manifest.txt
  if [[ -f $manifest ]]; then xargs -d '\n' rm -f <"$manifest"; fi
  rm -rf "$ROOT/build/hyperion_msgs" "$ROOT/build/hyperion_msgs.log" "$ROOT/build/vision_msgs" \
    "$ROOT/build/vision_msgs.log" "$STAMPS/msgs-hyperion_msgs" "$STAMPS/packages"
fi

# --- 7. The real ROS 2 command-line tools, for the tests ----------------------------------
# Vendored sources beside the checkout (never needed at run time: `hyperion run` starts the
# same graphs); the tests that use them skip, naming the folder, where it is absent.
if ((WITH_TEST)) && [[ -z $SYSTEM_ROS && -x $ROS2_CLI/install.sh ]]; then
  key=$(hash_inputs "$ROS2_CLI")
  if ! is_current ros2-cli "$key"; then
    log "installing the ROS 2 command-line tools from $ROS2_CLI (about a minute)"
    "$ROS2_CLI/install.sh" "$VENV" >&2
    mark_current ros2-cli "$key"
  fi
fi

# --- 8. The colcon workspace ----------------------------------------------------------------
# hyperion_core is also installed editable into the venv, so the ROS-free algorithms import
# without sourcing anything. The workspace is built as a ROS user builds it; with
# --symlink-install the Python packages, launch and config files are links to the sources,
# so editing them needs no rebuild. A build file, a message or the list of launch/config
# files changing does.
key=$(hash_inputs "$ROOT/src/hyperion_core/setup.py")
if ! is_current core "$key"; then
  "$PY" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
    -e "$ROOT/src/hyperion_core"
  rm -rf "$ROOT/src/hyperion_core/build"
  mark_current core "$key"
fi
key=$(cd "$ROOT" && { find launch config -type f -not -path '*/__pycache__/*'
  find src -mindepth 1 -maxdepth 1; cat colcon.meta
  find src -maxdepth 3 \( -name package.xml -o -name setup.py -o -name setup.cfg \
    -o -name CMakeLists.txt -o -path '*/resource/*' -o -path '*/msg/*' \) -type f \
    | sort | xargs sha256sum; } | sha256sum | cut -c1-16)
if ! is_current workspace "$key" || [[ ! -f $ROOT/install/setup.sh ]]; then
  log "colcon build --symlink-install (about half a minute)"
  started=$SECONDS
  (cd "$ROOT" && colcon build --symlink-install --event-handlers console_cohesion- \
      summary+ >"$STAMPS/colcon.log" 2>&1) \
    || { log "colcon build failed (see $ROOT/log/latest_build):"
         tail -n 40 "$STAMPS/colcon.log" >&2; exit 1; }
  log "workspace built in $((SECONDS - started)) s: $ROOT/install"
  mark_current workspace "$key"
fi

# --- 9. Detector models -------------------------------------------------------------------
# NanoDet and CenterNet from the pinned npm package, SHA-512-checked and converted to ONNX in
# $HYPERION_MODEL_DIR or $VENV/share/hyperion/models (first run: about a minute). The record
# next to each model (<name>.onnx.json: converter fingerprint, tarball integrity, file hash)
# is this step's stamp, checked by the installer itself in a fraction of a second, so a
# changed converter or a deleted model is redone and nothing else is.
"$PY" -m hyperion_core.models.tfjs.install || { log "installing the detector models failed"; exit 1; }
log "ready: $VENV and $ROOT/install (. $VENV/bin/activate)"
