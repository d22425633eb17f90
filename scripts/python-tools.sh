#!/usr/bin/env bash
# Installs the Python-based real clients the tests drive (AWS CLI v1, boto3), moto's server, cfn-lint and
# python-hcl2, at the versions pinned in scripts/python-requirements.txt, into .cache/venv (outside git).
# `npm test` runs it first.
# Idempotent: when the venv already holds exactly these pins (a stamp records them), it returns at once.
# A prerequisite it cannot install (python3 with its venv module) stops it with one line naming what to install.
set -euo pipefail
cd "${0%/*}/.."
venv=.cache/venv
requirements=scripts/python-requirements.txt
stamp="$venv/.openirsa-requirements"
need_python='install Python 3.9 or newer with its venv module (e.g. apt-get install python3 python3-venv, or python.org)'

fail() {
  printf 'python-tools: %s\n' "$*" >&2
  exit 1
}

command -v python3 >/dev/null 2>&1 || fail "python3 not found: the real-client tests need the AWS CLI, boto3 and moto; $need_python"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' ||
  fail "$(python3 --version 2>&1) is too old: $need_python"

# What the venv must match: the pins and the interpreter that built it.
want="$(python3 --version 2>&1) $(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/aws" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

echo "python-tools: installing the AWS CLI, boto3 and moto ($requirements) into $venv"
# A venv made by another interpreter cannot be upgraded in place: start again.
if [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" --version 2>&1)" != "$(python3 --version 2>&1)" ]; then
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >/dev/null 2>&1 || {
    rm -rf "$venv"
    fail "python3 -m venv failed (the venv module or ensurepip is missing): $need_python"
  }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" ||
  fail "pip could not install $requirements into $venv (see pip's message above; it needs access to the Python package index)"
printf '%s\n' "$want" >"$stamp"
"$venv/bin/aws" --version
