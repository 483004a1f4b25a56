#!/bin/sh
# Test certificates for the TLS benchmarks and the load tool's TLS runs, made with the openssl
# command line tool in DIR (created if missing):
#   ca.pem / ca.key          EC P-256 CA (self-signed)
#   server.pem / server.key  EC P-256, signed by the CA, subjectAltName IP:127.0.0.1
#   client.pem / client.key  EC P-256, signed by the CA, CN ringmq-bench-client (mTLS)
# Valid for 30 days. Files world-readable (Mosquitto started as root reads them as user
# mosquitto): test keys only.
#
#   bench/tls_certs.sh /tmp/certs
# Users: bench/tls_compare.py, bench/load/load_run_test.cc (LoadRunTlsTest).
set -eu
dir=${1:?usage: tls_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=ringmq bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
  -out ca.pem
sign() {  # name, subject CN, extensions
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -sha256 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
sign server 127.0.0.1 "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
sign client ringmq-bench-client "extendedKeyUsage=clientAuth"
rm -f ca.srl
chmod 755 .
chmod 644 ./*
