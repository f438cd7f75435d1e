#!/usr/bin/env bash
# Prepared runs on a lent GPU machine (see scripts/device_pack.sh for `.device/`). The default
# run took 273 s on an H100 in session 8, inside one 600-second device command (its steps'
# timeouts add up to 740 s): the int8 subgroup-matrix probe and attention tests first (they
# decide whether the int8 attention works there at all), then the int8 subgroup-matrix ceiling
# kernels (what the products allow, 3 s), the int8 attention sweep and the real-GPU targets. A
# second run, `tests stress`, takes the WebGPU test directory and the attention stress check.
# Each step has its own timeout so that one hang does not eat the device budget, and every log
# and JSON result lands in $OUT (or out/device when $OUT is unset) as its step ends, so a command
# cut short still returns the steps that finished.
#
# Usage (the device tool's command):
#   source .device/boot.sh >/dev/null 2>&1 && export PATH=/tmp/dv:$PATH && bash scripts/device_check.sh
# Steps can be chosen: `bash scripts/device_check.sh tests stress` (int8, tests, ceiling, sweep,
# targets, stress; the default is `int8 ceiling sweep targets`; on an H100 `int8 sweep targets`
# took 228 s with 9 configurations in the sweep, about 17 s each, probably mostly creating and
# uploading 2 GB of buffers again per configuration (2.3-2.6 s at an eighth of the size on
# lavapipe); with the inputs uploaded once, session 8's sweep timed 26 configurations in 175 s,
# 128 s of it after the upload; the ablations come right after the default, in case a list
# grows past the step's 300 s).
set -u
out="${OUT:-out/device}"
mkdir -p "$out" out/bench
steps="${*:-int8 ceiling sweep targets}"
run() { # name, seconds, command...
  local name=$1 seconds=$2
  shift 2
  local start=$SECONDS
  timeout "$seconds" "$@" 2>&1 | grep -vE "^Warning" >"$out/$name.log"
  echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s"
  tail -12 "$out/$name.log"
  cp out/bench/*.json "$out/" 2>/dev/null
}
nvidia-smi -L 2>/dev/null
deno --version | head -1
for step in $steps; do
  case $step in
  int8) run int8_tests 150 deno test -A --no-check tests/kernels/webgpu/templates/attention_int8_test.ts ;;
  tests) run webgpu_tests 150 deno test -A --no-check tests/kernels/webgpu/ ;;
  sweep) run int8_sweep 300 deno run -A --no-check bench/gpu_attention_int8_sweep.ts ;;
  # What int8 subgroup matrices allow here, pattern by pattern (3 s on an H100).
  ceiling) run int8_ceiling 90 deno run -A --no-check bench/gpu_int8_mma_ceiling.ts ;;
  targets) run targets 200 deno run -A --no-check bench/gpu_targets.ts ;;
  # Races show at sizes where many workgroups run at once: the attention kernels (portable and
  # GPU backward) at S = 4096, each run twice and compared bit for bit.
  stress) run stress 150 deno run -A --no-check tests/kernels/webgpu/templates/_stress.ts \
    --only attention --attention 48,4096,64,0 --no-backend ;;
  *) echo "unknown step $step (int8, tests, sweep, ceiling, targets, stress)" ;;
  esac
done
true
