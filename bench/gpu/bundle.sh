#!/usr/bin/env bash
# Build .gpucheck/ for bench/gpu/check.ts on the GPU machine, which has no Node modules or registry: the script as
# one ESM bundle with onnxruntime-node left out (it comes from ../shared/gpu/ with its CUDA provider), and
# dcmjs bundled on its own beside it (the code loads it with createRequire, which esbuild does not follow).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpucheck && mkdir -p .gpucheck/node_modules/dcmjs
npx esbuild bench/gpu/check.ts --bundle --platform=node --format=esm --target=node20 --external:onnxruntime-node \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
  --outfile=.gpucheck/gpu.mjs --log-level=warning
npx esbuild node_modules/dcmjs/build/dcmjs.js --bundle --platform=node --format=cjs --target=node20 \
  --outfile=.gpucheck/node_modules/dcmjs/index.js --log-level=warning
echo '{"name":"dcmjs","main":"index.js"}' > .gpucheck/node_modules/dcmjs/package.json
# ../shared does not travel: bench/gpu/run.sh sources this copy.
cp ../shared/gpu/unpack.sh .gpucheck/
# PyTorch's per-scan peer (bench/gpu/torch_scan.py) reads the scan as model/pack.py packs it (the GPU machine
# has no NIfTI reader): bench/analyze.ts's phantom (covid seed 2026, 512x512x300, 1.25 mm) written as NIfTI,
# packed once per configuration. Cached between builds.
packs=${GPU_PACK_CACHE:-/tmp/deepsc-bench/gpu-packs}
if [ ! -f "$packs/full.pack.xz" ]; then
  rm -rf "$packs" && mkdir -p "$packs/cases"
  [ -f dist/bin/deepsc.mjs ] || npm run build >/dev/null
  node dist/bin/deepsc.mjs phantom --class covid --seed 2026 --size 512 --slices 300 --thickness 1.25 \
    --format nifti --out "$packs/cases/covid-2026" > /dev/null
  for c in light full; do /usr/bin/python3 model/pack.py --config "$c" --data "$packs/cases" --out "$packs/$c.pack.xz"; done
fi
mkdir -p .gpucheck/packs && cp "$packs"/*.pack.xz .gpucheck/packs/
grep -qx '/.gpucheck/' .git/info/exclude 2>/dev/null || echo '/.gpucheck/' >> .git/info/exclude
du -sh .gpucheck
