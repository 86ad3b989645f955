#!/usr/bin/env bash
# Set up a Debian machine for fwbuild: the Arm cross compiler, QEMU, and a .venv with
# the package installed editable. Idempotent: a second run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")"

# gcc + libc6-dev: the host compiler for the bootloader's SHA-256 unit test; distcc and
# ccache: compiler wrappers (cc_prefix=) a build farm uses, tested against a local distccd;
# gdb-multiarch: `scons debug` and its test; libcairo2 and a monospace font: the test that
# renders memory-map.svg (cairosvg). clang, lld and llvm (llvm-ar, llvm-ranlib): toolchain=llvm,
# which links the same newlib and libgcc as the GNU toolchain (docs/toolchains.md). cmake: the
# CMake+Ninja baseline bench/ compares builds with, and its test.
APT_PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm openssl gcc libc6-dev distcc ccache
    gdb-multiarch libcairo2 fonts-dejavu-core clang lld llvm cmake)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
PYTHON=${PYTHON:-python3}
# Debian's python3 has no venv module without python3-venv.
"$PYTHON" -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi

# Reinstall only when the package definition changed since the last install.
stamp=.venv/.fwbuild-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x .venv/bin/fwbuild ]; then
    echo "setup: installing fwbuild into .venv"
    # Metadata an install by the former setuptools backend left beside the package: with
    # site_scons/ on sys.path it would be a second, stale fwbuild distribution.
    rm -rf site_scons/fwbuild.egg-info
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
    echo "$want" > "$stamp"
fi
# libsodium 1.0.20-stable (ISC licence), for the example boot chain's signature checks on the
# device: its C sources come inside the PyNaCl 1.6.2 sdist on the Python package index,
# pinned by hash. Only the files Ed25519 verification and SHA-256 need are kept, in the venv.
SODIUM=.venv/share/libsodium-1.0.20-stable
if [ ! -f "$SODIUM/.complete" ]; then
    echo "setup: fetching libsodium sources (PyNaCl 1.6.2 sdist)"
    tmp=$(mktemp -d)
    echo "pynacl==1.6.2 --hash=sha256:018494d6d696ae03c7e656e5e74cdfd8ea1326962cc401bcf018f1ed8436811c" \
        > "$tmp/requirements.txt"
    .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
        --require-hashes -r "$tmp/requirements.txt" -d "$tmp"
    src=pynacl-1.6.2/src/libsodium/src/libsodium
    tar -xzf "$tmp/pynacl-1.6.2.tar.gz" -C "$tmp" pynacl-1.6.2/licenses/LICENSE.libsodium.txt "$src/include" \
        "$src/crypto_sign/ed25519/ref10" "$src/crypto_core/ed25519/ref10" "$src/crypto_hash/sha512/cp" \
        "$src/crypto_hash/sha256/cp" "$src/crypto_verify/verify.c" "$src/sodium/utils.c"
    rm -rf "$SODIUM"
    mkdir -p "$(dirname "$SODIUM")"
    mv "$tmp/$src" "$SODIUM"
    cp "$tmp/pynacl-1.6.2/licenses/LICENSE.libsodium.txt" "$SODIUM/LICENSE"
    touch "$SODIUM/.complete"
    rm -rf "$tmp"
fi
echo "setup: ready (arm-none-eabi-gcc $(arm-none-eabi-gcc -dumpversion 2>/dev/null || echo 'missing'), clang $(clang -dumpversion 2>/dev/null || echo 'missing'))"
