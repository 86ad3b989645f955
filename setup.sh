#!/usr/bin/env bash
# Set up a Debian machine for fwbuild: the Arm cross compiler, QEMU, and a .venv with
# the package installed editable. Idempotent: a second run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")"

# gcc + libc6-dev: the host compiler for the bootloader's SHA-256 unit test; distcc and
# ccache: compiler wrappers (cc_prefix=) a build farm uses, tested against a local distccd;
# gdb-multiarch: `scons debug` and its test.
APT_PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm openssl gcc libc6-dev distcc ccache
    gdb-multiarch)

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
echo "setup: ready ($(arm-none-eabi-gcc -dumpversion 2>/dev/null || echo 'no arm-none-eabi-gcc'))"
