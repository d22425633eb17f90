#!/usr/bin/env bash
# Installs the Python-based real clients the tests drive (AWS CLI v1, boto3), moto's S3-compatible
# server, and the validators of setup's dry-run outputs (cfn-lint, python-hcl2) into .cache/venv (outside git).
# Idempotent: a second run only checks versions.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  'awscli==1.*' 'boto3==1.*' 'moto[server,s3]==5.*' 'cfn-lint==1.*' 'python-hcl2==8.*'
"$venv/bin/aws" --version
