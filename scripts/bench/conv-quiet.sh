#!/bin/bash
# The fine-tuning figures of docs/benchmarks.md ("Fine-tuning a ResNet"), in one run: wrap it in
# /work/bin/cpu-quiet (or run it on an otherwise idle machine). PyTorch runs in the same run.
#   bash scripts/bench/conv-quiet.sh [OUT_DIR]
set -u
out=${1:-/tmp/conv-quiet}
mkdir -p "$out"
echo "== $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
npm run -s bench:train -- --backends tensorflow --only finetune-resnet --mode no-aug --fused compare --steps 10 --warmup 2 --pytorch
for t in 1 2; do npm run -s bench:train -- --backends tensorflow --only finetune-resnet --mode no-aug --threads $t --steps 6 --warmup 2; done
npm run -s bench:train -- --backends tensorflow --only finetune-resnet,finetune-vit,features-resnet,features-vit,robustness-resnet --steps 5 --warmup 1
for f in off on; do npm run -s bench:train -- --backends tensorflow --only cpu-resnet --mode step --fused $f --steps 5 --warmup 2; done
echo "== whole run $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$out/ft"
/usr/bin/time -f "wall %e s" npm run -s cim -- finetune --from scratch --model cimResnetMicro --dataset fashion-mnist --batch-size 128 --no-aug \
  --labels-fraction 0.5 --epochs 1 --checkpoint-every 117 --out "$out/ft" 2>&1 | grep -v '|' | tail -12
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const ips = rows.filter((r) => r.images_per_sec).map((r) => r.images_per_sec).sort((a, b) => a - b);
const steps = rows.filter((r) => r.images_per_sec);
console.log(JSON.stringify({ metricsSteps: ips.length, medianStepImagesPerSec: +ips[ips.length >> 1].toFixed(1), minStep: +ips[0].toFixed(1), maxStep: +ips.at(-1).toFixed(1),
  firstToLastStepImagesPerSec: +((steps.length - 1) * 128 / (steps.at(-1).time - steps[0].time)).toFixed(1) }));
' "$out/ft/metrics.jsonl"
echo "== end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
