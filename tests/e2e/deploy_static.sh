#!/bin/bash
# Deployment files, checked without AWS: shellcheck on every script, yamllint on the workflows,
# terraform fmt, and (with the offline AWS provider) terraform init, validate and test.
. "$(dirname "$0")/lib.bash"
cd "$SRC" || exit 1
ran=0

if command -v shellcheck >/dev/null; then
  ran=1
  # -x -P SCRIPTDIR follows the tests' `. lib.bash`; SC2015 is the tests' `cmd && ok || fail`
  # idiom (ok never fails). Deployment scripts are held to every level, tests to warnings.
  sc=(shellcheck -x -P SCRIPTDIR -e SC2015)
  for f in scripts/*.sh slurm/*.sbatch docker/*.sh; do
    [ -f "$f" ] || continue
    if out=$("${sc[@]}" "$f" 2>&1); then ok; else fail "shellcheck $f: $(printf '%s\n' "$out" | head -8)"; fi
  done
  while IFS= read -r f; do
    if out=$("${sc[@]}" --severity=warning "$f" 2>&1); then ok; else fail "shellcheck $f: $(printf '%s\n' "$out" | head -8)"; fi
  done < <(find tests -name '*.sh' -not -path '*/node_modules/*' | sort)
  for f in scripts/startup_master.sh scripts/run_master.sh scripts/startup_agent.sh scripts/run_agent.sh; do
    expect_grep "$f has set -euo pipefail" '^set -euo pipefail' "$f"
    "$f" --help >"$T/help" 2>&1; expect_grep "$f --help" '^usage:' "$T/help"
  done
else
  echo "shellcheck not installed: scripts not checked"
fi

if command -v yamllint >/dev/null; then
  ran=1
  if out=$(yamllint -s .github/workflows 2>&1); then ok; else fail "yamllint: $out"; fi
  expect_grep "workflow asks for an OIDC token" 'id-token: write' .github/workflows/deploy.yml
  expect_grep "workflow assumes a role" 'role-to-assume:' .github/workflows/deploy.yml
  if grep -qE 'aws-(access-key-id|secret-access-key)' .github/workflows/deploy.yml; then fail "workflow uses stored AWS keys"; else ok; fi
else
  echo "yamllint not installed: workflows not checked"
fi

if command -v terraform >/dev/null; then
  ran=1
  export TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1
  if out=$(terraform -chdir=terraform fmt -check -recursive 2>&1); then ok; else fail "terraform fmt would change: $out"; fi
  plug=$(find / -maxdepth 2 -type d -name '*tf-plugins*' 2>/dev/null | head -1)
  if [ -n "$plug" ]; then
    cp -r terraform "$T/tf"
    rm -rf "$T/tf/.terraform" "$T/tf/.terraform.lock.hcl"
    if terraform -chdir="$T/tf" init -backend=false -input=false -plugin-dir="$plug" >"$T/init.log" 2>&1; then
      ok
      if terraform -chdir="$T/tf" validate -no-color >"$T/validate.log" 2>&1; then ok; else fail "terraform validate: $(cat "$T/validate.log")"; fi
      if terraform -chdir="$T/tf" test -no-color >"$T/test.log" 2>&1; then ok
      else fail "terraform test: $(grep -E 'fail|Error' "$T/test.log" | head -10)"; fi
      grep -Eo '[0-9]+ passed, [0-9]+ failed' "$T/test.log" | tail -1 | sed 's/^/terraform test: /'
    else
      fail "terraform init: $(tail -5 "$T/init.log")"
    fi
  else
    echo "no offline terraform provider (tf-plugins): init, validate and test skipped"
  fi
else
  echo "terraform not installed: terraform not checked"
fi

[ "$ran" -eq 1 ] || skip "none of shellcheck, yamllint, terraform installed"
done_testing
