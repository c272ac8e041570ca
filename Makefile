# podnet: `make demo` and `make test` do all set-up on a fresh Debian 12 machine, as root.
# Every step is idempotent: packages are installed only when missing, npm ci only when the
# lock file changed, and tsc builds incrementally.

# Debian packages the lab, the tests and the benchmarks use (real programs, no mocks).
DEBIAN_PACKAGES := iproute2 iptables nftables conntrack ethtool procps psmisc tcpdump \
	etcd-server etcd-client bind9-dnsutils dnsperf dnsmasq-base iperf3 \
	podman runc containernetworking-plugins busybox-static \
	bird2 frr gobgpd build-essential python3 iputils-ping

.PHONY: all deps build test unit integration lint format demo bench clean

all: build

deps: .stamps/debian .stamps/npm

.stamps/debian:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@mkdir -p .stamps && touch $@

.stamps/npm: package-lock.json
	npm ci --no-audit --no-fund
	@mkdir -p .stamps && touch $@

build: deps dist/bin/podnet-cni
	npx tsc -p tsconfig.json

# The CNI plugin runtimes exec per pod: a small C client of the node agent (src/cni/shim/).
dist/bin/podnet-cni: src/cni/shim/podnet-cni.c
	@mkdir -p dist/bin
	cc -O2 -Wall -Wextra -o $@ $<

lint: build
	npx eslint .
	npx prettier --check .

format:
	npx prettier --write .

unit: build
	node --test --test-concurrency=2 dist/test/unit/

integration: build
	node --test --test-concurrency=1 --test-timeout=600000 dist/test/integration/

test: lint unit integration

# The request flow on a fresh 3-host lab; DEMO_FLAGS=--keep leaves the lab up to explore.
demo: build
	bin/podnet demo $(DEMO_FLAGS)

bench: build
	@for b in dist/bench/*.js; do echo "== $$b"; node $$b || exit 1; done

clean:
	rm -rf dist .stamps
