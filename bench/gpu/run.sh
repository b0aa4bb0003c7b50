#!/usr/bin/env bash
# Issue 3's GPU check in one go, on the GPU machine (bench/README.md, "The GPU path"). Before it: the parts of
# ../shared/gpu/'s bundle, the full-size export (.gpufull) and any float16 candidates (.gpuvar) were carried by
# earlier calls into /root/stash, /root/gpufull and /root/gpuvar; this call carries .gpucheck/ (npm run
# bench:gpu:bundle) and the last part. Results go to $OUT:
#   env.txt          GPU, driver, PyTorch and CUDA versions
#   gpu-tiles.json   per tile, light and full: onnxruntime-node CUDA fp32, fp16 and each candidate float16 graph
#                    vs PyTorch eager on the same card (fp32, .half(), autocast; fp32 and autocast also with
#                    host arrays in and out, as onnxruntime-node's session takes them)
#   scan-*/          per scan (analyze() in a fresh process per configuration): SCANS lists them as
#                    name:manifest:configs, e.g. "light:gpu-job/models/model.json:cuda-fp32,cuda-fp16,cpu,auto"
#   torch-scan.jsonl PyTorch's whole-scan inference on the same scan (bench/gpu/torch_scan.py), light and full,
#                    fp32, .half() and autocast: the peer of the scans' `inference` stage
# Each step has its own time limit so that a slow one cannot take the others' results with it.
set -uo pipefail
out=${OUT:?set OUT}
light=${LIGHT_MODEL:-gpu-job/models/model.json}
full=${FULL_MODEL:-/root/gpufull/model.json}
candidates=${FP16_CANDIDATES:-/root/gpuvar}
scans=${SCANS:-light:$light:cuda-fp32,cuda-fp16,cpu,auto full:$full:cuda-fp32,cuda-fp16,cpu}
. .gpucheck/unpack.sh
export NODE_PATH=$ORT_MODULES
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
  nproc
} > "$out/env.txt" 2>&1
cat "$out/env.txt"
step() { local limit=$1; shift; echo "== $*"; timeout "$limit" "$ORT_NODE" .gpucheck/gpu.mjs "$@" > /dev/null || echo "== exit $? ($*)"; }
cand=(); [ -d "$candidates" ] && cand=(--fp16-candidates "$candidates")
step "${TILES_LIMIT:-240}" --tiles --out "$out" --model "$light" --full "$full" "${cand[@]}"
for s in $scans; do
  IFS=: read -r name manifest configs <<< "$s"
  step "${SCAN_LIMIT:-150}" --out "$out/scan-$name" --model "$manifest" --configs "$configs"
done
for mode in "" --half --autocast; do
  for net in "light --checkpoint model/weights/deepsc-light.pt" "full --config full --random-init --seed 0"; do
    set -- $net
    echo "== torch_scan $1 ${mode:-fp32}"
    timeout "${TORCH_SCAN_LIMIT:-120}" python3 bench/gpu/torch_scan.py --pack ".gpucheck/packs/$1.pack.xz" "${@:2}" \
      --device cuda $mode >> "$out/torch-scan.jsonl" || echo "== exit $? (torch_scan $net $mode)"
  done
done
