#!/usr/bin/env bash
# The speed benchmarks on a lent GPU machine (issue 8, item 6), as one prepared run that fits
# the device tool's budget (15 minutes a session, 10 a command; the machine has torch, numpy and
# Pillow but no moderngl and no network).
#
# Here, once per checkout (downloads ~1 MB of GL loader packages and two wheels, git-ignored):
#     bash benchmarks/device_bench.sh --fetch
# Then with the device tool:
#     run(command="bash benchmarks/device_bench.sh", carry=[".gl", ".whl"], timeout_s=590)
# Every figure lands in $OUT (bench_render JSON + Markdown, bench_live text, the GPU's name).
# Not yet run on a real device: no GPU was lent to the sessions that wrote it.
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

OUT="${OUT:-bench-device}"
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export __EGL_VENDOR_LIBRARY_FILENAMES="${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
python3 -c "from realtime_cppn.renderer import create_headless_context as c; i = c().info; \
print(i['GL_RENDERER'], i['GL_VERSION'])" | tee -a "$OUT/gpu.txt" || exit 1

# The default network and the width sweep at every size, all paths (torch on the CPU and on
# CUDA), then the deepest network without torch on the CPU (seconds a frame at 4K there).
timeout 300 python3 benchmarks/bench_render.py --big --specialized --ubo \
    --nets 32x4,16x4,64x4 --out "$OUT/render" 2>&1 | tee "$OUT/render.log"
timeout 120 python3 benchmarks/bench_render.py --big --specialized \
    --nets 64x12 --skip torch-cpu+upload --out "$OUT/render-deep" 2>&1 | tee "$OUT/render-deep.log"
# Architecture change in place vs in the background (NVIDIA's shader disk cache shared with a
# child process), and the baked takeover after a reseed, at 1080p.
timeout 120 python3 benchmarks/bench_live.py --background --size 1920x1080 --frames 500 \
    --repeats 2 2>&1 | tee "$OUT/live.log"
