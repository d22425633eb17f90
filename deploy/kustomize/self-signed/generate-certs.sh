#!/usr/bin/env bash
# Writes a private CA (ca.crt, ca.key) and the webhook's serving certificate (tls.crt, tls.key) for the
# self-signed overlay, next to this script. Needs openssl. Usage:
#   bash deploy/kustomize/self-signed/generate-certs.sh [namespace] [days]
set -euo pipefail
cd "$(dirname "$0")"
NS=${1:-openirsa}
DAYS=${2:-825}
SVC=openirsa-webhook
umask 077
if [ ! -f ca.key ]; then
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout ca.key -out ca.crt \
    -days 3650 -subj "/CN=openirsa-webhook-ca" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign"
fi
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout tls.key -out tls.csr \
  -subj "/CN=$SVC.$NS.svc"
cat >tls.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$SVC,DNS:$SVC.$NS,DNS:$SVC.$NS.svc,DNS:$SVC.$NS.svc.cluster.local
EXT
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days "$DAYS" -extfile tls.ext
rm -f tls.csr tls.ext ca.srl
chmod 600 ca.key tls.key
echo "wrote $(pwd)/{ca.crt,tls.crt,tls.key} for $SVC.$NS.svc (CA key: ca.key, keep it private)" >&2
