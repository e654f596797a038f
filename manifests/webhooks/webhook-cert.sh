#!/bin/sh
# The admission webhooks' serving certificate, made with openssl:
#   1. a new CA, whose key never leaves this script's temp dir;
#   2. a certificate for the Service (SERVICE.NAMESPACE.svc and
#      .svc.cluster.local) signed by it, valid DAYS days;
#   3. caBundle of every webhook in the two webhook configurations: the new
#      CA followed by the one it replaces, so the API server trusts both the
#      certificate still being served and the new one;
#   4. Secret NAMESPACE/SECRET (type kubernetes.io/tls): the certificate and
#      key, which the control plane reads again within a minute or so (the
#      kubelet updates the mounted Secret; `serve` rereads it every 30 s).
#
# Run it once after `kubectl apply -k manifests/` (until then the control
# plane's pods wait for the Secret), and again to renew before DAYS run out.
#
#   sh manifests/webhooks/webhook-cert.sh
#
# Environment: KUBECTL (default kubectl; give it its own flags, e.g.
# "kubectl --context prod"), NAMESPACE (mediamesh-system), SERVICE
# (mediamesh-control-plane), SECRET (mediamesh-webhook-tls), DAYS (365),
# MUTATING (00-mediamesh-sidecar-injector), VALIDATING
# (mediamesh-route-validator).
set -eu

KUBECTL=${KUBECTL:-kubectl}
NAMESPACE=${NAMESPACE:-mediamesh-system}
SERVICE=${SERVICE:-mediamesh-control-plane}
SECRET=${SECRET:-mediamesh-webhook-tls}
DAYS=${DAYS:-365}
MUTATING=${MUTATING:-00-mediamesh-sidecar-injector}
VALIDATING=${VALIDATING:-mediamesh-route-validator}

command -v openssl >/dev/null 2>&1 || { echo "webhook-cert.sh: openssl is not installed" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work"

host="$SERVICE.$NAMESPACE.svc"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout ca.key -out ca.crt -days "$DAYS" -subj "/CN=mediamesh webhook CA $(date -u +%Y%m%dT%H%M%SZ)" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout tls.key -out tls.csr -subj "/CN=$host" 2>/dev/null
cat > tls.ext <<EXT
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$host, DNS:$host.cluster.local, DNS:$SERVICE.$NAMESPACE
EXT
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
  -days "$DAYS" -extfile tls.ext -out tls.crt 2>/dev/null
rm -f ca.key tls.csr

# The first certificate of a PEM bundle on stdin.
first_cert() {
  awk '/-----BEGIN CERTIFICATE-----/ { on = 1 } on { print } /-----END CERTIFICATE-----/ && on { exit }'
}

# caBundle for every webhook of one configuration: the new CA, then the CA
# the first webhook trusts now (if any).
patch_ca_bundle() {
  kind=$1
  name=$2
  count=$($KUBECTL get "$kind" "$name" -o jsonpath='{range .webhooks[*]}{.name}{"\n"}{end}' | grep -c .) || true
  if [ "${count:-0}" -eq 0 ]; then
    echo "webhook-cert.sh: $kind $name has no webhooks (apply manifests/ first)" >&2
    exit 1
  fi
  $KUBECTL get "$kind" "$name" -o jsonpath='{.webhooks[0].clientConfig.caBundle}' > old.b64
  cp ca.crt bundle.pem
  if [ -s old.b64 ]; then
    openssl base64 -d -A < old.b64 | first_cert > old.pem
    if [ -s old.pem ] && ! cmp -s old.pem ca.crt; then cat old.pem >> bundle.pem; fi
  fi
  bundle=$(openssl base64 -A < bundle.pem)
  ops=""
  i=0
  while [ "$i" -lt "$count" ]; do
    ops="$ops${ops:+,}{\"op\":\"add\",\"path\":\"/webhooks/$i/clientConfig/caBundle\",\"value\":\"$bundle\"}"
    i=$((i + 1))
  done
  $KUBECTL patch "$kind" "$name" --type=json -p "[$ops]" >/dev/null
  echo "caBundle of $kind $name: $count webhook(s)"
}

# Trust first, then serve: the API server never sees a certificate it does not trust.
patch_ca_bundle mutatingwebhookconfiguration "$MUTATING"
patch_ca_bundle validatingwebhookconfiguration "$VALIDATING"
$KUBECTL -n "$NAMESPACE" create secret tls "$SECRET" --cert=tls.crt --key=tls.key --dry-run=client -o yaml \
  | $KUBECTL apply -f - >/dev/null
echo "Secret $NAMESPACE/$SECRET: certificate for $host, valid $DAYS days"
