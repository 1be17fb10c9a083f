#!/usr/bin/env bash
# Prepare an offline build of the rustbpe crate.
# If crates.io is reachable we do nothing: cargo fetches the pinned crates itself.
# Otherwise we install Debian's packaged crates (librust-*-dev, unpacked under
# /usr/share/cargo/registry) and point cargo's crates-io source at that directory.
# Idempotent: safe to run again; only appends a marked block to cargo's config.
set -euo pipefail

REGISTRY_DIR=/usr/share/cargo/registry
CARGO_CONFIG="${CARGO_HOME:-$HOME/.cargo}/config.toml"
MARKER="# nanochat_lit: offline crates from Debian (runs/setup_rust.sh)"
PACKAGES=(librust-pyo3-dev librust-fancy-regex-dev librust-rayon-dev librust-ahash-dev
          librust-indexmap-dev librust-log-dev librust-regex-dev)

if curl -fsS --max-time 8 https://index.crates.io/config.json >/dev/null 2>&1; then
    echo "setup_rust: crates.io is reachable; nothing to do"
    exit 0
fi
echo "setup_rust: crates.io is not reachable; using Debian's packaged crates in $REGISTRY_DIR"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    # `apt-get update` only when the package lists are empty or the first install attempt fails.
    if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' || true)" ]; then
        $SUDO apt-get update
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}" \
        || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; }
fi

mkdir -p "$(dirname "$CARGO_CONFIG")"
touch "$CARGO_CONFIG"
if grep -qF "$MARKER" "$CARGO_CONFIG"; then
    echo "setup_rust: $CARGO_CONFIG already redirects crates-io; leaving it"
elif grep -q '^\[source\.crates-io\]' "$CARGO_CONFIG"; then
    echo "setup_rust: $CARGO_CONFIG already has a [source.crates-io] section of its own;" \
         "not touching it. Make it replace-with a directory source at $REGISTRY_DIR." >&2
    exit 1
else
    cat >> "$CARGO_CONFIG" <<TOML

$MARKER
[source.crates-io]
replace-with = "debian-packaged-crates"

[source.debian-packaged-crates]
directory = "$REGISTRY_DIR"
TOML
    echo "setup_rust: wrote crates-io -> $REGISTRY_DIR to $CARGO_CONFIG"
fi
