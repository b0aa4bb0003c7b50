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
grep -qx '/.gpucheck/' .git/info/exclude 2>/dev/null || echo '/.gpucheck/' >> .git/info/exclude
du -sh .gpucheck
