#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a short, fixed time on its seed corpus
# (docs/fuzzing.md) and fails on any crash, panic, timeout or leak. Needs the
# nightly toolchain from rustup (cargo-fuzz builds with nightly-only flags);
# installs cargo-fuzz when it is missing.
#
#   scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
targets=(go_text criterion results_json report_json baseline_yaml gate_yaml)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz-smoke: the nightly toolchain is missing; install it with" >&2
    echo "  rustup toolchain install nightly --profile minimal" >&2
    echo "(cargo-fuzz needs nightly; the fuzz smoke test cannot run without it)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# The readers are safe Rust: no sanitizer (faster builds and runs); debug
# assertions stay on, so arithmetic overflow panics too.
build=(--sanitizer none --debug-assertions)
# cargo-fuzz has no --locked: check that fuzz/Cargo.lock is up to date first.
cargo +nightly metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null
cargo +nightly fuzz build "${build[@]}"
fuzz/seed.sh >/dev/null

for t in "${targets[@]}"; do
    echo "fuzz-smoke: $t for ${seconds}s"
    # A private copy of the corpus: libFuzzer adds what it finds to the
    # first corpus folder, and the smoke run must not grow the seeds.
    work="$(mktemp -d)"
    if ! cargo +nightly fuzz run "${build[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 2>"$work.log"; then
        tail -n 60 "$work.log" >&2
        echo "fuzz-smoke: $t failed; the input is in fuzz/artifacts/$t/" >&2
        rm -rf "$work" "$work.log"
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^Done' "$work.log" || true
    rm -rf "$work" "$work.log"
done
echo "fuzz-smoke: ${#targets[@]} targets ran ${seconds}s each without a crash"
