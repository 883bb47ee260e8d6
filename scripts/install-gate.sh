#!/usr/bin/env bash
# Installs the gate binary as $GATE_DIR/bin/gate: the release named by
# GATE_VERSION (action.yml's constant), downloaded, checked against its
# SHA-256 and its build-provenance attestation, or else a build of this
# checkout's source. Used by the action's install step and by jobs that only
# need the binary (the gate-matrix merge job, gate-comment.yml).
#
# Environment:
#   GATE_DIR              where to install (bin/gate under it); required
#   GATE_VERSION          the release tag, e.g. v0.1.0; default: action.yml's
#   GATE_INSTALL          auto (default), release or source, see below
#   GH_TOKEN              token for `gh attestation verify`
#   ACTION_REPOSITORY, ACTION_REF
#                         github.action_repository / github.action_ref of
#                         the action step (empty for `uses: ./`)
#   GATE_RELEASE_REPOSITORY
#                         owner/name that publishes the releases; default:
#                         the action's repository, or GITHUB_REPOSITORY
#                         when not run as a downloaded action
#
# What happens (docs/github.md, "Releases and verification"):
#   - release asset present, SHA-256 matches, attestation verified: installed;
#   - SHA-256 mismatch, sum file missing, attestation refused by gh, binary
#     of another version: the step FAILS (a tampered or broken release is
#     never run, and never silently replaced by a build);
#   - no release for this version or runner (404, unsupported OS/arch),
#     download error, verification impossible (no gh, no token, gh too old),
#     or a local action (`uses: ./`, whose source may differ from the
#     release): built from source with a line saying why, unless
#     GATE_INSTALL=release, which fails instead of building;
#   - GATE_INSTALL=source: always built from source.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${GATE_DIR:?GATE_DIR must name the install folder}"
mode="${GATE_INSTALL:-auto}"
version="${GATE_VERSION:-}"
if [[ -z "$version" ]]; then
  version="$(sed -n 's/^[[:space:]]*GATE_VERSION:[[:space:]]*\(v[0-9][^[:space:]#]*\).*/\1/p' "$root/action.yml" | head -n1)"
fi

say() { echo "gate install: $*"; }
fail() {
  echo "::error title=gate install::$*"
  exit 1
}

case "$mode" in
  auto | release | source) ;;
  *)
    echo "::error title=gate input::input install must be auto, release or source, not '$mode'"
    exit 2
    ;;
esac
if [[ ! "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$ ]]; then
  fail "no valid GATE_VERSION (got '$version'); action.yml must name the release, e.g. GATE_VERSION: v0.1.0"
fi

if [[ -x "$dir/bin/gate" ]]; then
  say "using the cached binary in $dir"
  exit 0
fi

build() {
  say "building gate from source ($root): $1"
  if ! command -v cargo >/dev/null; then
    fail "cannot build the gate: cargo is not installed (install a Rust toolchain, or use a runner the release supports)"
  fi
  cargo install --locked --path "$root" --root "$dir" --bin gate
}

# Falls back to a build, or fails when only the release may be used.
no_release() {
  if [[ "$mode" == release ]]; then
    fail "$1; install: release never builds from source"
  fi
  echo "::notice title=gate install::$1; building from source instead"
  build "$1"
  exit 0
}

if [[ "$mode" == source ]]; then
  build "input install is 'source'"
  exit 0
fi

ref="${ACTION_REF:-}"
repo="${ACTION_REPOSITORY:-}"
# Composite steps may see both empty; a downloaded action lives in
# .../_actions/OWNER/REPO/REF, which names them too.
if [[ -z "$repo" && "${GITHUB_ACTION_PATH:-}" == */_actions/*/*/* ]]; then
  rest="${GITHUB_ACTION_PATH#*/_actions/}"
  owner="${rest%%/*}"
  rest="${rest#*/}"
  name="${rest%%/*}"
  ref="${rest#*/}"
  repo="$owner/$name"
fi
if [[ -z "$repo" ]]; then
  if [[ "$mode" == auto ]]; then
    build "the action runs from a local checkout (uses: ./), whose source may differ from release $version"
    exit 0
  fi
  repo="${GITHUB_REPOSITORY:-}"
fi
repo="${GATE_RELEASE_REPOSITORY:-$repo}"
if [[ ! "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]]; then
  fail "cannot tell which repository publishes the gate's releases (got '$repo'); set GATE_RELEASE_REPOSITORY"
fi

case "${RUNNER_OS:-}-${RUNNER_ARCH:-}" in
  Linux-X64) target=x86_64-unknown-linux-musl ;;
  Linux-ARM64) target=aarch64-unknown-linux-musl ;;
  macOS-ARM64) target=aarch64-apple-darwin ;;
  *) no_release "release $version has no binary for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}" ;;
esac

asset="gate-$target.tar.gz"
url="${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download/$version/$asset"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

say "action ${repo}@${ref:-?} names release $version; downloading $url"
code="$(curl -sSL --retry 3 -o "$tmp/$asset" -w '%{http_code}' "$url" || true)"
case "$code" in
  200) ;;
  404) no_release "no release asset $asset for $version in $repo (HTTP 404 at $url)" ;;
  *) no_release "could not download $url (HTTP ${code:-none})" ;;
esac

code="$(curl -sSL --retry 3 -o "$tmp/$asset.sha256" -w '%{http_code}' "$url.sha256" || true)"
if [[ "$code" != 200 ]]; then
  fail "release $version has $asset but its $asset.sha256 could not be downloaded (HTTP ${code:-none}); refusing an incomplete release"
fi
expected="$(awk '{print $1; exit}' "$tmp/$asset.sha256")"
if command -v sha256sum >/dev/null; then
  actual="$(sha256sum "$tmp/$asset" | awk '{print $1}')"
else
  actual="$(shasum -a 256 "$tmp/$asset" | awk '{print $1}')"
fi
if [[ -z "$expected" || "$expected" != "$actual" ]]; then
  fail "the checksum of $url does not match its .sha256 (expected '$expected', got '$actual'): the archive is corrupt or was altered; refusing to run it"
fi

# Authenticity: the archive must carry a build-provenance attestation made
# by this repository's release workflow for the tag $version.
signer="$repo/.github/workflows/release.yml"
if ! command -v gh >/dev/null; then
  no_release "cannot verify the attestation of $asset: gh (GitHub CLI) is not installed"
fi
if [[ -z "${GH_TOKEN:-}" ]]; then
  no_release "cannot verify the attestation of $asset: no token (input github-token is empty)"
fi
help="$(gh attestation verify --help 2>&1 || true)"
for flag in --repo --signer-workflow --source-ref --deny-self-hosted-runners; do
  if [[ "$help" != *"$flag"* ]]; then
    no_release "cannot verify the attestation of $asset: this gh ($(gh --version 2>/dev/null | head -n1)) lacks gh attestation verify $flag (gh 2.68 or later has it)"
  fi
done
set +e
verdict="$(gh attestation verify "$tmp/$asset" --repo "$repo" --signer-workflow "$signer" \
  --source-ref "refs/tags/$version" --deny-self-hosted-runners 2>&1)"
status=$?
set -e
if [[ "$status" -ne 0 ]]; then
  printf '%s\n' "$verdict"
  fail "the build-provenance attestation of $asset (sha256:$actual) did not verify: it was not built by $signer at refs/tags/$version (gh attestation verify exited $status; its output is above); refusing to run it. Set install: source to build from source instead"
fi
say "attestation verified: $asset was built by $signer at refs/tags/$version"

mkdir -p "$tmp/x"
tar -xzf "$tmp/$asset" -C "$tmp/x" gate
chmod +x "$tmp/x/gate"
reported="$("$tmp/x/gate" --version 2>&1 || true)"
if [[ "$reported" != "gate ${version#v}" ]]; then
  fail "$asset of release $version reports '$reported', not 'gate ${version#v}'; refusing it"
fi
mkdir -p "$dir/bin"
mv "$tmp/x/gate" "$dir/bin/gate"
say "installed the release binary $asset ($version, sha256:$actual) into $dir/bin"
