// The processes `lab up --backend cloud` starts in the underlay (hidden verbs): the guard in
// front of the EC2 emulator, instance metadata, and the VPC router.
import type { Command } from 'commander';
import { UsageError } from '../util/errors.js';
import { parseCount } from './context.js';

async function untilStopped(): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
}

async function labCloud(labDir: string) {
  const { readLabCloud } = await import('../lab/cloud-up.js');
  const cloud = readLabCloud(labDir);
  if (!cloud) throw new UsageError(`--lab-dir ${labDir}: no cloud.json (not a cloud lab)`);
  return cloud;
}

export function registerLabCloud(lab: Command): void {
  lab
    .command('cloud-guard', { hidden: true })
    .description("the EC2 API's quota, token buckets and blackholes in front of moto")
    .requiredOption('--listen <address>', 'HOST:PORT to serve on')
    .requiredOption('--upstream <url>', "moto's URL")
    .requiredOption('--quota <n>', 'routes per table', parseCount('--quota', 1, 1000))
    .action(async (opts: { listen: string; upstream: string; quota: number }) => {
      const [{ startGuard }, { splitHostPort }] = await Promise.all([
        import('../lab/cloud-guard.js'),
        import('../lab/relay.js'),
      ]);
      const { host, port } = splitHostPort(opts.listen);
      const server = await startGuard({ host, port, upstream: opts.upstream, quota: opts.quota });
      await untilStopped();
      server.close();
      process.exit(0);
    });

  lab
    .command('cloud-metadata', { hidden: true })
    .description("instance metadata (IMDSv2) for the lab's hosts")
    .requiredOption('--lab-dir <dir>', "the lab's directory")
    .action(async (opts: { labDir: string }) => {
      const [{ startMetadata }, { METADATA_ADDRESS }] = await Promise.all([
        import('../lab/cloud-metadata.js'),
        import('../lab/cloud-plan.js'),
      ]);
      const server = await startMetadata(await labCloud(opts.labDir), METADATA_ADDRESS);
      await untilStopped();
      server.close();
      process.exit(0);
    });

  lab
    .command('vpc-router', { hidden: true })
    .description('mirror the emulated route tables into the underlay router')
    .requiredOption('--lab-dir <dir>', "the lab's directory")
    .action(async (opts: { labDir: string }) => {
      const [{ runVpcRouter }, { MOTO_ADDRESS }, { readLabState }, { createLogger }] =
        await Promise.all([
          import('../lab/vpc-router.js'),
          import('../lab/cloud-plan.js'),
          import('../lab/state.js'),
          import('../util/log.js'),
        ]);
      const state = readLabState(opts.labDir);
      if (!state) throw new UsageError(`--lab-dir ${opts.labDir}: no lab.json`);
      const stop = new AbortController();
      process.once('SIGTERM', () => stop.abort());
      process.once('SIGINT', () => stop.abort());
      await runVpcRouter(
        {
          netns: state.underlay.netns,
          motoUrl: `http://${MOTO_ADDRESS}`,
          cloud: await labCloud(opts.labDir),
          zones: state.underlay.zones,
          log: createLogger('podnet-vpc-router', { lab: state.name }),
        },
        stop.signal,
      );
      process.exit(0);
    });
}
