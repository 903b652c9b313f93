#!/bin/sh
# Regenerates the TLS files FakeSlackServer uses in https:// / wss:// mode:
#   ca.pem          test CA certificate (what clients trust: FakeSlackServer::ca_file())
#   server.pem      server certificate for 127.0.0.1 (IP SAN) and localhost (DNS SAN), signed by the CA
#   server-key.pem  its private key (unencrypted; loopback tests only, never trust it elsewhere)
# The CA's own key is thrown away: nothing else is ever signed with it. Valid for 100 years so the
# committed files do not expire under CI. Usage: test/data/make-certs.sh [output-dir]
set -eu

out=${1:-$(dirname "$0")}
days=36500
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca_ext
[dn]
CN = rollbot test CA (loopback tests only)
O = rollbot tests
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF

cat >"$work/server.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
O = rollbot tests
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -days "$days" -config "$work/ca.cnf" -keyout "$work/ca-key.pem" -out "$work/ca.pem"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -config "$work/server.cnf" -keyout "$work/server-key.pem" -out "$work/server.csr"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
    -CAcreateserial -sha256 -days "$days" -extfile "$work/server.cnf" -extensions server_ext \
    -out "$work/server.pem"

openssl verify -x509_strict -CAfile "$work/ca.pem" "$work/server.pem"
openssl verify -CAfile "$work/ca.pem" -verify_ip 127.0.0.1 "$work/server.pem"
openssl verify -CAfile "$work/ca.pem" -verify_hostname localhost "$work/server.pem"

cp "$work/ca.pem" "$work/server.pem" "$work/server-key.pem" "$out/"
chmod 644 "$out/ca.pem" "$out/server.pem" "$out/server-key.pem"
echo "make-certs: wrote ca.pem, server.pem, server-key.pem to $out"
