// What `podnet install` writes for systemd: a unit for the agent, one for the cluster DNS, and
// the host's settings file both read. Pure text from options, so it is tested without a host.

export const AGENT_UNIT = 'podnet-agent.service';
export const DNS_UNIT = 'podnet-dns.service';
export const SETTINGS_FILE = '/etc/podnet/podnet.env';

export interface HostSettings {
  /** The podnet program as the host will run it (absolute). */
  podnet: string;
  /** The cluster store every agent and DNS server shares. */
  store: string;
  node: string;
  zone?: string;
  nodeIP?: string;
  stateDir: string;
  socket: string;
  /** Resolvers for names outside the cluster, `IP[:PORT],...`; none: the DNS unit only answers for the cluster. */
  upstream?: string;
}

/** The settings file: what changes from host to host, so the units themselves never do. */
export function renderSettings(s: HostSettings): string {
  const agentArgs = [
    `--node ${s.node}`,
    ...(s.zone ? [`--zone ${s.zone}`] : []),
    ...(s.nodeIP ? [`--node-ip ${s.nodeIP}`] : []),
    `--state-dir ${s.stateDir}`,
    `--socket ${s.socket}`,
  ];
  const dnsArgs = s.upstream ? [`--upstream ${s.upstream}`] : [];
  return [
    `# podnet's settings on this host, read by ${AGENT_UNIT} and ${DNS_UNIT}.`,
    '# Edit, then: systemctl restart podnet-agent podnet-dns',
    `PODNET_STORE=${s.store}`,
    `PODNET_AGENT_ARGS=${agentArgs.join(' ')}`,
    `PODNET_DNS_ARGS=${dnsArgs.join(' ')}`,
    '',
  ].join('\n');
}

/** The node agent: root, but with only the capabilities networking takes. */
export function renderAgentUnit(s: HostSettings): string {
  return `[Unit]
Description=podnet node agent (pod subnets, routes, service rules, CNI back end)
# The agent reads the store over the network and publishes this host's address.
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
EnvironmentFile=${SETTINGS_FILE}
ExecStart=${s.podnet} agent $PODNET_AGENT_ARGS
# SIGTERM leaves routes and rules as they are and a restart changes only what differs, so
# restarting is always safe, and pods keep their network while the agent is away.
Restart=always
RestartSec=2s
StateDirectory=podnet
# NET_ADMIN: routes, links, tunnels, nftables/iptables, conntrack. NET_RAW: iptables reads and
# replaces its tables through a raw socket. SYS_ADMIN: setns(2) into a pod's network namespace
# when the runtime calls the CNI plugin.
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_ADMIN
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
`;
}

/** The cluster DNS: an unprivileged user of its own that may bind port 53 and nothing else. */
export function renderDnsUnit(s: HostSettings): string {
  return `[Unit]
Description=podnet cluster DNS (records for the cluster domain, forwarding)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
EnvironmentFile=${SETTINGS_FILE}
ExecStart=${s.podnet} dns $PODNET_DNS_ARGS
Restart=always
RestartSec=2s
DynamicUser=yes
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
AmbientCapabilities=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX

[Install]
WantedBy=multi-user.target
`;
}
