#!/usr/bin/env bash
# Builds the seed corpus of every fuzz target in fuzz/corpus/<target>/ from
# the repository's test data and the small seeds committed in fuzz/seeds/.
# The corpus folders are not committed (fuzz/.gitignore): libFuzzer adds
# what it finds to them, and the repository stays small.
set -euo pipefail
fuzz="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$fuzz")"
data="$root/tests/data/formats"
corpus="$fuzz/corpus"

put() { # put TARGET FILE...: copies files into the target's corpus
    local target="$1"
    shift
    mkdir -p "$corpus/$target"
    for f in "$@"; do
        cp "$f" "$corpus/$target/$(basename "$(dirname "$f")")-$(basename "$f")"
    done
}

for t in go_text criterion results_json report_json baseline_yaml gate_yaml; do
    mkdir -p "$corpus/$t"
    if [ -d "$fuzz/seeds/$t" ]; then
        cp "$fuzz/seeds/$t"/* "$corpus/$t/"
    fi
done

put go_text "$data"/go-bench/*.txt "$root"/baselines/seed/*.txt

# criterion: benchmark.json NUL sample.json [NUL counters file], the layout
# the target splits its input into (fuzz_targets/criterion.rs).
n=0
for bench in $(cd "$data/criterion" && find . -path '*/new/benchmark.json' | sort); do
    dir="$data/criterion/$(dirname "$bench")"
    id="$(sed -n 's/.*"full_id": *"\([^"]*\)".*/\1/p' "$dir/benchmark.json")"
    counters="$data/criterion/gate-counters/$(echo "$id" | sed 's/\/t\([0-9]\)/_t\1/; s/\//_/g').json"
    n=$((n + 1))
    {
        cat "$dir/benchmark.json"
        printf '\0'
        cat "$dir/sample.json"
    } >"$corpus/criterion/bench-$n"
    if [ -f "$counters" ]; then
        { cat "$corpus/criterion/bench-$n"; printf '\0'; cat "$counters"; } >"$corpus/criterion/bench-$n-counters"
    fi
done

put report_json "$root"/tests/data/github/*.json
# Baselines: the seed and the stored Go baseline (the Rust one is large).
put baseline_yaml "$root"/baselines/go.yaml
put gate_yaml "$root"/gate.yaml

for t in "$corpus"/*; do
    echo "$(basename "$t"): $(find "$t" -type f | wc -l) seed(s)"
done
