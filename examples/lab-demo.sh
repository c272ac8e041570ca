#!/bin/sh
# `make demo` for now (issue 9 will make it walk the whole request flow): a 3-host lab in two
# zones, two echo pods on hosts in different zones, HTTP from one to the other, lab removed.
set -eu
cd "$(dirname "$0")/.."
podnet=bin/podnet
lab=demo

step() { printf '\n== %s\n' "$*"; }

pod_ip() {
  $podnet --lab "$lab" get pod "$1" -o json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{process.stdout.write(JSON.parse(s).status?.podIP??"")}catch{}})'
}

wait_ip() {
  i=0
  while [ $i -lt 150 ]; do
    ip=$(pod_ip "$1")
    if [ -n "$ip" ]; then echo "$ip"; return 0; fi
    sleep 0.2
    i=$((i + 1))
  done
  echo "pod $1 got no IP within 30s (see $podnet lab status --name $lab)" >&2
  return 1
}

$podnet lab down --name "$lab" >/dev/null 2>&1
trap '$podnet lab down --name "$lab"' EXIT

step "podnet lab up --name $lab    (3 hosts, 2 zones)"
$podnet lab up --name "$lab"

step "podnet apply -f examples/echo-pods.yaml    (echo-1 on node-1, echo-2 on node-2)"
$podnet --lab "$lab" apply -f examples/echo-pods.yaml
ip1=$(wait_ip echo-1)
ip2=$(wait_ip echo-2)
$podnet --lab "$lab" get pods -o wide

step "echo-1 ($ip1, zone-1) -> echo-2 ($ip2, zone-2): HTTP GET http://$ip2:8080/"
if $podnet lab exec --name "$lab" echo-1 -- timeout 5 busybox wget -q -O - "http://$ip2:8080/"; then
  echo
  step "echo-2 -> echo-1: HTTP GET http://$ip1:8080/"
  $podnet lab exec --name "$lab" echo-2 -- timeout 5 busybox wget -q -O - "http://$ip1:8080/"
  echo
else
  echo "no answer: pods on different hosts need the routes of the routing issue" >&2
  exit 1
fi

step "podnet lab down --name $lab"
