#!/usr/bin/env bash
# Issue 3's GPU check in one go, on the GPU machine (bench/README.md, "The GPU path"). Before it: the parts of
# ../shared/gpu/'s bundle and the full-size export were carried by earlier calls into /root/stash and
# /root/gpufull; this call carries .gpucheck/ (npm run bench:gpu:bundle) and the last part. Results go to $OUT:
#   env.txt          GPU, driver, PyTorch and CUDA versions
#   gpu-tiles.json   per tile, light and full, fp32 and fp16: onnxruntime-node CUDA vs PyTorch eager, same card
#   scan-light/      per scan, the committed light model: cuda-fp32, cuda-fp16, cpu (16 cores), auto
#   scan-full/       per scan, the full-size (untrained) model: cuda-fp32, cuda-fp16, then cpu
# Each step has its own time limit so that a slow one cannot take the others' results with it.
set -uo pipefail
out=${OUT:?set OUT}
full=${FULL_MODEL:-/root/gpufull/model.json}
. .gpucheck/unpack.sh
export NODE_PATH=$ORT_MODULES
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
  nproc
} > "$out/env.txt" 2>&1
cat "$out/env.txt"
step() { local limit=$1; shift; echo "== $*"; timeout "$limit" "$ORT_NODE" .gpucheck/gpu.mjs "$@" > /dev/null || echo "== exit $? ($*)"; }
step 240 --tiles --out "$out" --full "$full"
step 150 --out "$out/scan-light"
step 170 --out "$out/scan-full" --model "$full" --configs cuda-fp32,cuda-fp16,cpu
