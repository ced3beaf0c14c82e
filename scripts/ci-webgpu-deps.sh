#!/usr/bin/env bash
# The Debian packages Dawn's software WebGPU adapter needs (the webgpu tests run on it in CI):
#   libegl-dev       libEGL.so, the exact name Dawn's OpenGL ES backend opens (pulls libegl1, libglvnd0)
#   libegl-mesa0     Mesa's EGL vendor (50_mesa.json), with the surfaceless platform
#   libgl1-mesa-dri  Mesa's llvmpipe driver (swrast_dri.so): the "GPU" that runs the shaders on the CPU
# Installs them only when a piece is missing. Called by .ci/run; safe to run twice.
set -euo pipefail
missing=()
[[ $(ldconfig -p) == *'libEGL.so '* ]] || missing+=(libegl-dev)
[ -e /usr/share/glvnd/egl_vendor.d/50_mesa.json ] || missing+=(libegl-mesa0)
ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1 || missing+=(libgl1-mesa-dri)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci-webgpu-deps: installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
