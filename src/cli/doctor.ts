// `podnet doctor [--node NAME]`: checks a host for what breaks pod networks in practice and
// prints one pass/fail line per check, with the command that fixes each failure. Exit 1 when
// any check fails. In a lab, --node picks the host namespace; on a real host it checks itself.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../util/errors.js';
import { labFor, requireRoot, resolveStoreUrl } from './context.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check a host for what breaks pod networks, each failure with its fix')
    .option('--node <name>', 'the node to check (in a lab: its host namespace)')
    .option('-o, --output <format>', 'json for one JSON document')
    .action(async (opts: { node?: string; output?: string }, cmd: Command) => {
      requireRoot('podnet doctor');
      if (opts.output !== undefined && opts.output !== 'json') {
        throw new UsageError(`-o ${opts.output}: unknown output format (valid: json)`);
      }
      const lab = labFor(cmd);
      if (lab && !opts.node) {
        throw new UsageError(
          `--node is required in lab ${lab}: name the host to check (node-1, ...)`,
        );
      }
      const nodeName = opts.node ?? hostname();
      const [{ diagnoseHost }, facts, { openStore }, objects] = await Promise.all([
        import('../diagnose/doctor.js'),
        import('../kernel/host-facts.js'),
        import('../store/open.js'),
        import('../store/objects.js'),
      ]);
      const store = await openStore(resolveStoreUrl(cmd));
      try {
        const [network, { items: nodes }, bgpStatuses] = await Promise.all([
          objects.getClusterNetwork(store),
          objects.listObjects(store, 'Node'),
          import('../bgp/status-store.js').then((m) => m.readStatuses(store)),
        ]);
        if (!nodes.some((n) => n.metadata.name === nodeName)) {
          const known = nodes.map((n) => n.metadata.name).join(', ') || 'none';
          throw new UsageError(`--node ${nodeName}: no such Node (known: ${known})`);
        }
        const host = await facts.readHostFacts(lab ? `${lab}-${nodeName}` : undefined);
        const verdicts = diagnoseHost({
          host,
          nodeName,
          nodes,
          network,
          kernelConfig: facts.readKernelConfig(),
          bgp: bgpStatuses.find((b) => b.node === nodeName),
        });
        const failed = verdicts.filter((v) => !v.ok);
        if (opts.output === 'json') {
          process.stdout.write(`${JSON.stringify({ node: nodeName, verdicts }, null, 2)}\n`);
        } else {
          for (const v of verdicts) {
            process.stdout.write(`${v.ok ? 'pass' : 'FAIL'}  ${v.check.padEnd(16)} ${v.detail}\n`);
            if (v.fix) process.stdout.write(`      ${''.padEnd(16)} fix: ${v.fix}\n`);
          }
          process.stdout.write(
            failed.length === 0
              ? `${nodeName}: every check passed\n`
              : `${nodeName}: ${failed.length} check(s) failed\n`,
          );
        }
        if (failed.length > 0) process.exitCode = 1;
      } finally {
        await store.close();
      }
    });
}
