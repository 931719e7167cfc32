#!/bin/bash
# Exits 0 when the hyperflow server on 127.0.0.1:PORT (default 5000) answers GET /health
# with 200 OK. Needs only bash (its /dev/tcp), so the slim image needs no curl; the
# Dockerfile installs it as `hyperflow-healthcheck`.
set -euo pipefail
port=${1:-5000}
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
IFS= read -r status <&3
[[ $status == HTTP/1.?\ 200* ]]
