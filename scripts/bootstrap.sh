#!/usr/bin/env bash
# Install everything LightningStor needs on a fresh Debian machine, then sync the workspace.
#
#   uv          from PyPI (python3 -m pip), when no uv is reachable
#   etcd        Debian's etcd-server and etcd-client (etcdctl, for backups), when either binary
#               is missing; the tests start their own etcd on free ports, so the package's
#               system service is kept stopped
#   s3cmd       Debian's s3cmd and rclone, when missing: the S3 client tests run them
#   rclone      (the AWS CLI and the MinIO client come with the dev dependencies)
#   chromium    Debian's chromium and chromium-driver, when missing: the browser tests (CORS,
#               form uploads) drive a headless Chromium through selenium
#   .venv       uv sync --all-packages --locked (every distribution plus the dev tools)
#
# With --runtime (what `make run` uses): only uv and what the server needs at run time,
# `uv sync --no-dev --inexact` (no test tools, no etcd, no S3 clients, no browser; a .venv that
# already holds the dev tools keeps them).
#
# Idempotent and quiet when there is nothing to do. Make puts the directories where pip installs
# uv on PATH; when you run this script by hand it tells you if your shell cannot see uv yet.
# Environment: LIGHTNINGSTOR_SKIP_ETCD=1 skips the etcd step (for machines that only run the
# server on its embedded metadata store); LIGHTNINGSTOR_SKIP_S3_TOOLS=1 skips s3cmd and rclone;
# LIGHTNINGSTOR_SKIP_BROWSER=1 skips chromium (the browser tests are then skipped).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The uv that wrote uv.lock; a fresh machine gets exactly this one.
UV_VERSION="${UV_VERSION:-0.13.9}"
# uv must use the machine's Python (>=3.11): never fetch an interpreter from elsewhere.
export UV_PYTHON_DOWNLOADS=never
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Trust the machine's CA bundle (uv otherwise uses its built-in roots) unless told otherwise.
if [ -z "${SSL_CERT_FILE:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
fi

say() { printf 'bootstrap: %s\n' "$*" >&2; }

python_bin() {
    local py
    for py in python3 python; do
        if command -v "$py" >/dev/null 2>&1; then
            echo "$py"
            return
        fi
    done
    say "no python3 on PATH (LightningStor needs Python 3.11 or newer)"
    exit 1
}

# Directories where `pip install` and `pip install --user` put console scripts.
pip_script_dirs() {
    "$1" - <<'PY'
import sysconfig
print(sysconfig.get_path("scripts"))
print(sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user")))
PY
}

ensure_uv() {
    local py dir
    py="$(python_bin)"
    # Make the usual pip script directories visible before looking, so a second run is silent.
    while IFS= read -r dir; do
        case ":$PATH:" in *":$dir:"*) ;; *) PATH="$PATH:$dir" ;; esac
    done < <(pip_script_dirs "$py"; echo "$HOME/.local/bin")
    export PATH
    if command -v uv >/dev/null 2>&1; then
        return
    fi
    say "installing uv $UV_VERSION from PyPI"
    "$py" -m pip install --quiet "uv==$UV_VERSION" \
        || "$py" -m pip install --quiet --user "uv==$UV_VERSION" \
        || "$py" -m pip install --quiet --user --break-system-packages "uv==$UV_VERSION"
    if command -v pyenv >/dev/null 2>&1; then
        pyenv rehash || true # creates the `uv` shim for interactive shells
    fi
    hash -r
    if ! command -v uv >/dev/null 2>&1; then
        say "uv was installed but is not on PATH; add one of these to PATH:"
        pip_script_dirs "$py" >&2
        exit 1
    fi
    say "uv is $(command -v uv)"
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        say "need root (or sudo) to run: $*"
        exit 1
    fi
}

# Stop and disable the etcd system service the Debian package may have started. Containers often
# have neither a running systemd nor working init scripts: every step is allowed to fail.
stop_etcd_service() {
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        as_root systemctl disable --now etcd >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
        as_root service etcd stop >/dev/null 2>&1 || true
        if command -v update-rc.d >/dev/null 2>&1; then
            as_root update-rc.d etcd disable >/dev/null 2>&1 || true
        fi
    fi
}

ensure_etcd() {
    if [ "${LIGHTNINGSTOR_SKIP_ETCD:-0}" = 1 ] \
        || { command -v etcd >/dev/null 2>&1 && command -v etcdctl >/dev/null 2>&1; }; then
        return
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "etcd not found and no apt-get: install etcd 3.4+ and put it on PATH"
        exit 1
    fi
    say "installing Debian's etcd-server and etcd-client (the tests start their own etcd)"
    # Keep the package's service from starting: Debian's maintainer scripts ask
    # /usr/sbin/policy-rc.d, and exit code 101 means "not allowed". Only put one there when the
    # machine has none, and remove it afterwards.
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        added_policy=1
    fi
    local status=0 log
    log="$(mktemp)"
    {
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends etcd-server etcd-client
    } >"$log" 2>&1 || status=$?
    if [ "$added_policy" = 1 ]; then
        as_root rm -f "$policy"
    fi
    if [ "$status" -ne 0 ]; then
        cat "$log" >&2
        rm -f "$log"
        say "apt-get failed (exit $status)"
        exit "$status"
    fi
    rm -f "$log"
    stop_etcd_service
    say "etcd is $(command -v etcd) ($(etcd --version 2>/dev/null | head -n 1))"
}

# apt_install WHAT PACKAGE...: install Debian packages quietly, showing the log on failure.
apt_install() {
    local what="$1"
    shift
    if ! command -v apt-get >/dev/null 2>&1; then
        say "$* not found and no apt-get: the $what will be skipped"
        return
    fi
    say "installing Debian's $* ($what)"
    local log
    log="$(mktemp)"
    if ! {
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
            && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends "$@"
    } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        say "apt-get failed"
        exit 1
    fi
    rm -f "$log"
}

ensure_s3_tools() {
    local missing=() tool
    for tool in s3cmd rclone; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if [ "${LIGHTNINGSTOR_SKIP_S3_TOOLS:-0}" = 1 ] || [ "${#missing[@]}" -eq 0 ]; then
        return
    fi
    apt_install "S3 client tests" "${missing[@]}"
}

ensure_browser() {
    local missing=()
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
    if [ "${LIGHTNINGSTOR_SKIP_BROWSER:-0}" = 1 ] || [ "${#missing[@]}" -eq 0 ]; then
        return
    fi
    apt_install "browser tests" "${missing[@]}"
}

ensure_uv
if [ "${1:-}" = --runtime ]; then
    uv sync --quiet --all-packages --locked --no-dev --inexact
    exit 0
fi
ensure_etcd
ensure_s3_tools
ensure_browser
uv sync --quiet --all-packages --locked
