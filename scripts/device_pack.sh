#!/usr/bin/env bash
# Packs .device/ for a bare Linux x86-64 GPU machine (no Deno, no Node, no Vulkan loader, no
# network), like ../shared/tools/device-prep.sh, but slimmer so the kit plus the working tree fit
# the 64 MiB a device call carries: node_modules without other platforms' binaries, source maps,
# duplicate minified bundles, and the two binaries no GPU run needs (the npm ffmpeg and Bun's
# Dawn wrapper; their package folders stay so Deno sees every locked package installed).
# Then, on the GPU machine: source .device/boot.sh && export PATH=/tmp/dv:$PATH && deno task bench
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
[ -d node_modules ] || { echo "no node_modules: run the tests once first"; exit 1; }
mkdir -p .device/gl
deno_bin=$(command -v deno || find "$HOME/.npm/_npx" -path '*linux-x64*' -name deno -type f 2>/dev/null | head -1)
[ -n "$deno_bin" ] || { echo "no deno binary found: run npx -y deno@2.9.6 --version first"; exit 1; }
[ -f .device/deno.xz ] || xz -T2 -6 -c "$deno_bin" > .device/deno.xz
tar cf - --exclude='*/dist/darwin-*' --exclude='*/dist/win32-*' --exclude='*/dist/linux-arm64' \
  --exclude='*.map' --exclude='*.es2017.*' --exclude='*.min.js' \
  --exclude='*/@ffmpeg-installer/linux-x64/ffmpeg' --exclude='*/bun-webgpu-linux-x64/*.so' \
  node_modules | xz -T2 -6 > .device/nm.tar.xz
mkdir -p /tmp/amd64/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
ls .device/gl/*.deb >/dev/null 2>&1 || { apt-get $o update -qq && (cd .device/gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2); }
cat > .device/boot.sh <<'BOOT'
# On the GPU machine: unpack Deno and node_modules, install the Vulkan loader and the glvnd
# libraries the NVIDIA ICD loads (without libGLX it reports no driver), use the NVIDIA ICD.
for f in .device/gl/*.deb; do dpkg -x "$f" /; done; ldconfig
mkdir -p /tmp/dv && xz -dc .device/deno.xz > /tmp/dv/deno && chmod +x /tmp/dv/deno
tar xJf .device/nm.tar.xz
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
export XDG_RUNTIME_DIR=/tmp DENO_DIR=/tmp/dv/cache
nvidia-smi -L || true
BOOT
du -sh .device
