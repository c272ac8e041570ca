// `podnet lab up|down|status`: a whole cluster on this machine out of network namespaces.
import { Command, Option } from 'commander';
import {
  LABS_DIR,
  labInfo,
  labNameGiven,
  labsUp,
  parseCount,
  requireRoot,
  resolveLab,
  type LabInfo,
} from './context.js';
import { UsageError } from '../util/errors.js';
import { registerLabCloud } from './lab-cloud.js';

const BACKENDS = ['host-gw', 'vxlan', 'ipip', 'auto', 'wireguard', 'cloud'];
const OVERFLOWS = ['refuse', 'vxlan'];
const PROXIES = ['iptables', 'nftables'];
const STORES = ['sqlite', 'etcd'];
const ROUTINGS = ['store', 'bgp'];
const FABRICS = ['none', 'bird', 'frr'];
const RUNTIMES = ['lab', 'containerd'];
const LAB_APIS = ['podnet', 'kubernetes'];
const LAB_IP_FAMILIES = ['ipv4', 'ipv6', 'dual'];

function nameOption(): Option {
  return new Option('--name <name>', 'lab name: prefix of its namespaces').default('podnet');
}

function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(['table', 'json']);
}

/** The process that owns a lab: whoever ran `lab up`, or PODNET_LAB_OWNER_PID (tests). */
function ownerPid(): number {
  const env = process.env.PODNET_LAB_OWNER_PID;
  if (env === undefined) return process.ppid;
  const pid = Number(env);
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new UsageError(`PODNET_LAB_OWNER_PID ${env}: must be a process id`);
  }
  return pid;
}

/**
 * `lab up --store sqlite|etcd`: the program-wide `--store URL` option takes the flag wherever
 * it stands, so the lab's store kind is read from there.
 */
function labStoreKind(cmd: Command): 'sqlite' | 'etcd' {
  const { store } = cmd.optsWithGlobals() as { store?: string };
  if (store === undefined) return 'sqlite';
  if (store === 'sqlite' || store === 'etcd') return store;
  throw new UsageError(`--store ${store}: lab up takes ${STORES.join(' or ')}`);
}

export function registerLab(program: Command): void {
  const lab = program
    .command('lab')
    .description('a whole cluster on this machine, out of network namespaces');

  lab
    .command('up')
    .description('build the lab (underlay, hosts, agents) and wait until it is ready')
    .addOption(nameOption())
    .option('--nodes <n>', 'number of hosts', parseCount('--nodes', 1, 250), 3)
    .option(
      '--zones <z>',
      'number of zones (L2 segments joined by a router), at most --nodes (default: 2)',
      parseCount('--zones', 1, 16),
    )
    .addOption(
      new Option('--backend <backend>', 'pod routing backend').choices(BACKENDS).default('auto'),
    )
    .addOption(
      new Option(
        '--encryption <kind>',
        'encrypt pod traffic between hosts, whatever the backend',
      ).choices(['wireguard']),
    )
    .addOption(
      new Option('--proxy <mode>', 'service proxy mode').choices(PROXIES).default('iptables'),
    )
    .addOption(
      new Option('--routing <mode>', 'where routes come from').choices(ROUTINGS).default('store'),
    )
    .addOption(
      new Option(
        '--fabric <daemon>',
        'with --routing bgp, a router running BIRD 2 or FRR in the underlay that every host peers with (no node mesh)',
      )
        .choices(FABRICS)
        .default('none'),
    )
    .addOption(
      new Option(
        '--runtime <runtime>',
        "who runs the pods: the lab's own runner, or a private containerd per host through its CRI (as kubelet)",
      )
        .choices(RUNTIMES)
        .default('lab'),
    )
    .addOption(
      new Option(
        '--api <api>',
        "what agents, DNS and pod runners read: podnet's store, or the lab's Kubernetes API (each with its own least-privilege token)",
      )
        .choices(LAB_APIS)
        .default('podnet'),
    )
    .addOption(
      new Option(
        '--ip-family <family>',
        "the pods' address families: IPv4 only, IPv6 only, or both (dual-stack, the default); with IPv6 the underlay gets ULA addresses beside its IPv4 ones",
      )
        .choices(LAB_IP_FAMILIES)
        .default('dual'),
    )
    .option(
      '--route-limit <n>',
      'with --backend cloud, routes each emulated route table may hold besides its local one (default: 50)',
      parseCount('--route-limit', 1, 999),
    )
    .addOption(
      new Option(
        '--overflow <what>',
        'with --backend cloud, what nodes past the route limit get: nothing, or VXLAN (default: refuse)',
      ).choices(OVERFLOWS),
    )
    .option(
      '--etcd-members <n>',
      'with --store etcd, how many etcd members: 1, 3 or 5 (default: 3)',
      parseCount('--etcd-members', 1, 5),
    )
    .option(
      '--tls',
      "with --store etcd, etcd over TLS: a CA of the lab's own, and only clients with its certificate",
    )
    .addOption(outputOption())
    .option(
      '-v, --verbose',
      "also print lab up's log (logs/lab.log in the lab's directory) on stderr",
    )
    .addHelpText('after', `\n  --store sqlite|etcd    the lab's cluster store (default: sqlite)`)
    .action(async (opts, cmd: Command) => {
      const chosen = labNameGiven(cmd) ?? opts.name;
      requireRoot('podnet lab up');
      const store = labStoreKind(cmd);
      const [{ validateLabName, zonesFor }, { labUp }, { labStatus, formatStatus }] =
        await Promise.all([
          import('../lab/plan.js'),
          import('../lab/up.js'),
          import('../lab/status.js'),
        ]);
      const name = validateLabName(chosen);
      const zones = zonesFor(opts.nodes, opts.zones);
      const etcdFlags = opts.etcdMembers !== undefined || opts.tls !== undefined;
      if (etcdFlags && store !== 'etcd') {
        throw new UsageError('--etcd-members and --tls are for --store etcd');
      }
      const { validateEtcdMembers, DEFAULT_ETCD_MEMBERS } = await import('../lab/etcd-plan.js');
      const cloudFlags = opts.routeLimit !== undefined || opts.overflow !== undefined;
      if (cloudFlags && opts.backend !== 'cloud') {
        throw new UsageError('--route-limit and --overflow are for --backend cloud');
      }
      const { readLabState } = await import('../lab/state.js');
      const { labStateDir } = await import('../lab/plan.js');
      if (readLabState(labStateDir(LABS_DIR, name))?.phase === 'ready') {
        // Up already: bring back what died, as `lab repair` does, and build nothing.
        await repairAndReport(name);
        return;
      }
      await labUp({
        labsDir: LABS_DIR,
        name,
        ownerPid: ownerPid(),
        verbose: opts.verbose ?? false,
        options: {
          nodes: opts.nodes,
          zones,
          backend: opts.backend,
          proxy: opts.proxy,
          store,
          routing: opts.routing,
          fabric: opts.fabric,
          runtime: opts.runtime,
          ...(opts.encryption ? { encryption: opts.encryption } : {}),
          api: opts.api,
          ...(store === 'etcd'
            ? {
                etcdMembers: validateEtcdMembers(opts.etcdMembers ?? DEFAULT_ETCD_MEMBERS),
                etcdTls: opts.tls ?? false,
              }
            : {}),
          ...(opts.ipFamily !== 'ipv4' ? { ipFamily: opts.ipFamily } : {}),
          ...(opts.backend === 'cloud'
            ? {
                cloud: {
                  routeLimit: opts.routeLimit ?? 50,
                  overflow: opts.overflow ?? 'refuse',
                },
              }
            : {}),
        },
      });
      const status = (await labStatus(LABS_DIR, name))!;
      process.stdout.write(
        opts.output === 'json' ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status),
      );
      if (status.apiServer) {
        // For kubectl and client libraries; -o json keeps stdout to the one document.
        const line = `export KUBECONFIG=${status.apiServer.kubeconfig}\n`;
        if (opts.output === 'json') process.stderr.write(line);
        else process.stdout.write(`\n${line}`);
      }
      const { labNetworkWarnings } = await import('../lab/network-warnings.js');
      for (const line of await labNetworkWarnings(labInfo(name)!.storeUrl)) {
        process.stderr.write(`warning: ${line}\n`);
      }
    });

  lab
    .command('repair')
    .description('start again exactly the lab processes that died (agents, pod runners, etcd ...)')
    .addOption(new Option('--name <name>', 'lab name (default: --lab, or the one lab that is up)'))
    .action(async (_opts, cmd: Command) => {
      const chosen = labNameGiven(cmd) ?? onlyLabUp();
      requireRoot('podnet lab repair');
      const { validateLabName } = await import('../lab/plan.js');
      await repairAndReport(validateLabName(chosen));
    });

  lab
    .command('down')
    .description('remove everything the lab made (succeeds when there is nothing to remove)')
    .addOption(
      new Option(
        '--name <name>',
        'lab name (default: --lab, or the one lab that is up, or "podnet")',
      ),
    )
    .action(async (_opts, cmd: Command) => {
      const chosen = labNameGiven(cmd) ?? onlyLabUp();
      requireRoot('podnet lab down');
      const [{ validateLabName }, { labDown }] = await Promise.all([
        import('../lab/plan.js'),
        import('../lab/down.js'),
      ]);
      const name = validateLabName(chosen);
      const result = await labDown({ labsDir: LABS_DIR, name });
      process.stderr.write(
        `lab ${name} is down (${result.namespaces.length} namespaces, ${result.processes} processes removed)\n`,
      );
    });

  lab
    .command('status')
    .description('hosts, zones, addresses and processes of one lab (--name) or of every lab')
    .addOption(new Option('--name <name>', 'lab name (default: --lab, or every lab that is up)'))
    .addOption(outputOption())
    .action(async (opts, cmd: Command) => {
      const chosen = labNameGiven(cmd);
      const [{ validateLabName }, { labStatus, labNames, formatStatus }] = await Promise.all([
        import('../lab/plan.js'),
        import('../lab/status.js'),
      ]);
      const json = opts.output === 'json';
      if (chosen !== undefined) {
        const name = validateLabName(chosen);
        const status = await labStatus(LABS_DIR, name);
        if (!status)
          throw new UsageError(
            `lab ${name} is not up (start it with 'podnet lab up --name ${name}')`,
          );
        process.stdout.write(json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
        return;
      }
      const all = [];
      for (const name of labNames(LABS_DIR)) all.push((await labStatus(LABS_DIR, name))!);
      if (json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
      else if (all.length === 0) process.stdout.write('no lab is up\n');
      else process.stdout.write(all.map(formatStatus).join('\n'));
    });

  lab
    .command('exec')
    .description("run a command inside a pod's network namespace, with the pod's resolv.conf")
    .usage('[-n NAMESPACE] POD -- COMMAND [ARGS...]')
    .option('-n, --namespace <ns>', "the pod's namespace", 'default')
    .option('--name <lab>', 'lab name (default: --lab, or the one lab that is up)')
    .argument('<pod>', 'pod name')
    .argument('<command...>', 'command and arguments (after --)')
    .action(async (pod: string, command: string[], opts, cmd: Command) => {
      requireRoot('podnet lab exec');
      const [{ findPodRecord, execEnv }, { execInNetns }] = await Promise.all([
        import('../lab/pods.js'),
        import('../process/daemons.js'),
      ]);
      const lab = labFor(cmd);
      const record = findPodRecord(lab.stateDir, opts.namespace, pod);
      if (!record?.podIP) {
        throw new UsageError(
          `pod ${opts.namespace}/${pod} is not running in lab ${lab.name} (see 'podnet get pods -n ${opts.namespace}')`,
        );
      }
      process.exitCode = execInNetns(record.netns, command, execEnv(record, lab.stateDir));
    });

  lab
    .command('kubelet', { hidden: true })
    .description("the lab's pod runner for one host (started by 'lab up')")
    .requiredOption('--node <name>', 'the host whose pods to run')
    .option('--name <lab>', 'lab name (default: --lab, or the one lab that is up)')
    .action(async (opts, cmd: Command) => {
      requireRoot('podnet lab kubelet');
      const { runKubelet } = await import('../lab/kubelet-main.js');
      await runKubelet(labFor(cmd).stateDir, opts.node);
    });

  registerLabCloud(lab);

  lab
    .command('relay', { hidden: true })
    .description(
      'carry connections accepted on fd 3 (4, ... for each further --to) to HOST:PORT (started by lab up)',
    )
    .requiredOption(
      '--to <address>',
      'HOST:PORT to connect to (repeatable)',
      (v: string, all: string[] = []) => [...all, v],
    )
    .action(async (opts: { to: string[] }) => {
      const { startRelay } = await import('../lab/relay.js');
      const servers = await Promise.all(opts.to.map((to, i) => startRelay(3 + i, to)));
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      for (const server of servers) server.close();
      process.exit(0); // open connections would otherwise keep it alive
    });
}

/**
 * The lab `lab down` removes when none is named: the one that is up, or the default name
 * (down succeeds when there is nothing to remove). Several up is a choice for the person.
 */
function onlyLabUp(): string {
  const up = labsUp();
  if (up.length > 1) {
    throw new UsageError(`several labs are up (${up.join(', ')}): say which one with --name NAME`);
  }
  return up[0] ?? 'podnet';
}

/** The lab a verb acts on: --name (or --lab), else the one lab that is up. */
function labFor(cmd: Command): LabInfo {
  const name = labNameGiven(cmd);
  if (name === undefined) return resolveLab(cmd);
  const info = labInfo(name);
  if (!info) throw new UsageError(`lab ${name} is not up (see 'podnet lab status')`);
  return info;
}

/** Restarts the lab's dead processes and says which (stderr), or that none had died. */
async function repairAndReport(name: string): Promise<void> {
  const { labRepair } = await import('../lab/repair.js');
  const restarted = await labRepair(LABS_DIR, name);
  if (restarted.length === 0) {
    process.stderr.write(`lab ${name}: every process is running; nothing to repair\n`);
    return;
  }
  for (const r of restarted) process.stderr.write(`restarted ${r.id} (pid ${r.pid})\n`);
  process.stderr.write(
    `lab ${name}: ${restarted.length} process(es) restarted; pod containers are restarted by their pod runner\n`,
  );
}
