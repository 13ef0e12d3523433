#!/usr/bin/env bash
# The GPU measurements for a lent machine, as one call that cannot be wasted: a lease is 15
# minutes of device time, the machine's start takes minutes of it, so the commands get at most
# 8 minutes (DEVICE_BENCH_SECONDS, default 470) and every step's limit is cut to what is left.
# The machine has torch, numpy and Pillow but no moderngl and no network.
#
# Here, once per checkout (downloads ~1 MB of GL loader packages and two wheels, git-ignored):
#     bash benchmarks/device_bench.sh --fetch
# Then with the device tool, as the first call:
#     run(command="bash benchmarks/device_bench.sh", carry=[".gl", ".whl"], timeout_s=500)
# End to end on llvmpipe, to try the whole run without a GPU (skips the GPU check, small sizes):
#     PYTHON=.venv/bin/python bash benchmarks/device_bench.sh --fake-gpu   # or DEVICE_BENCH_FAKE_GPU=1
#
# In order of importance, everything into $OUT (default bench-device):
#  1. the GL check: stop at once (exit 3) unless GL_RENDERER names the GPU;
#  2. nvidia-smi: the GPU, its clocks, and a clock log every second while the rest runs;
#  3. gpu_peak.py: the GL FP32 FMA peak (compute, fragment), the programs reseeds and morphs
#     draw at 1080p and 4K as % of that peak, weight-fetch costs; JSON after every result;
#  4. bench_render.py: ours against torch on CUDA, the default and the widest D4 network;
#  5. bench_live.py --background: architecture changes in place vs in a child, at 1080p.
set -uo pipefail

if [[ "${1:-}" == "--fetch" ]]; then
    grep -qxF '/.gl/' .git/info/exclude || echo '/.gl/' >> .git/info/exclude
    grep -qxF '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
    mkdir -p .gl .whl /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    # shellcheck disable=SC2086  # $o is several options
    apt-get $o update -qq && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 \
        libopengl0 libgl1 libglx0 libgles2) || exit 1
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
        moderngl==5.13.0 glcontext==3.1.0 || exit 1
    ls -l .gl .whl
    exit 0
fi

FAKE="${DEVICE_BENCH_FAKE_GPU:-}"
[[ "${1:-}" == "--fake-gpu" ]] && FAKE=1
LIMIT="${DEVICE_BENCH_SECONDS:-470}"
OUT="${OUT:-bench-device}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
: > "$OUT/steps.log"
note() { echo "== $*" | tee -a "$OUT/steps.log"; }
left() { echo $(( LIMIT - SECONDS )); }

# step NAME SECONDS COMMAND...: run with a limit of min(SECONDS, time left - 5); skipped under
# 20 s left. Output to the terminal and $OUT/NAME.log; the exit status goes to steps.log.
step() {
    local name=$1 want=$2 t0=$SECONDS t
    shift 2
    t=$(( $(left) - 5 ))
    (( want < t )) && t=$want
    if (( t < 20 )); then note "$name: skipped, $(left) s left"; return 0; fi
    note "$name: up to $t s ($(left) s left)"
    timeout -k 5 "$t" "$@" 2>&1 | tee "$OUT/$name.log"
    note "$name: exit ${PIPESTATUS[0]} after $(( SECONDS - t0 )) s"
}

# The GL loaders and moderngl, only where this python lacks them (the lent machine).
if ! "$PY" -c "import moderngl" 2>/dev/null; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || { note "moderngl install failed"; exit 1; }
    export PYTHONPATH="/tmp/site:$PWD"
fi
export PYTHONPATH="${PYTHONPATH:-$PWD}" PYTHONUNBUFFERED=1
nv_egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [[ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" && -f "$nv_egl" ]]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES="$nv_egl"
fi
note "set-up done after $SECONDS s"

# 1. Nothing else runs unless GL_RENDERER names the GPU.
if [[ -n "$FAKE" ]]; then
    "$PY" benchmarks/gpu_peak.py --check --fake-gpu --out "$OUT" | tee "$OUT/gpu.txt"
else
    "$PY" benchmarks/gpu_peak.py --check --out "$OUT" | tee "$OUT/gpu.txt"
    rc=${PIPESTATUS[0]}
    if (( rc != 0 )); then note "GL check failed (exit $rc): stopping"; exit 3; fi
fi

# 2. The GPU and its clocks, logged once a second until the script ends.
smi_pid=""
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.sm,clocks.mem,power.limit \
        --format=csv | tee -a "$OUT/gpu.txt"
    nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu,clocks_throttle_reasons.active \
        --format=csv -lms 1000 > "$OUT/clocks.csv" 2>&1 &
    smi_pid=$!
    trap '[[ -n "$smi_pid" ]] && kill "$smi_pid" 2>/dev/null' EXIT
fi

if [[ -n "$FAKE" ]]; then
    step gpu_peak 150 "$PY" benchmarks/gpu_peak.py --fake-gpu --out "$OUT" --budget 120
    step render 150 "$PY" benchmarks/bench_render.py --nets 8x2 --sizes 512x512 --ubo \
        --specialized --seconds 0.2 --min-frames 1 --out "$OUT/render"
    step live 120 "$PY" benchmarks/bench_live.py --background --size 160x90 --width 8 --depth 2 \
        --frames 50 --repeats 1
else
    step gpu_peak 240 "$PY" benchmarks/gpu_peak.py --out "$OUT" --budget 225
    step render 130 "$PY" benchmarks/bench_render.py --big --specialized --ubo \
        --nets 32x4,64x4 --skip torch-cpu+upload --out "$OUT/render"
    step live 80 "$PY" benchmarks/bench_live.py --background --size 1920x1080 --frames 300 \
        --repeats 1
fi
note "done after $SECONDS s (limit $LIMIT s); results in $OUT"
