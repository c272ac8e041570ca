// `podnet demo`: builds a lab and walks the whole request flow (see src/lab/demo.ts).
import { Command, Option } from 'commander';
import { labNameGiven, parseCount, requireRoot } from './context.js';

interface DemoFlags {
  name: string;
  requests: number;
  ipFamily: 'ipv4' | 'ipv6' | 'dual';
  keep?: boolean;
  verbose?: boolean;
  output: string;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'build a 3-host lab and walk the request flow over each address family: DNS, random DNAT, routes and tunnels, trace',
    )
    .option('--name <lab>', 'lab name (or --lab)', 'demo')
    .option(
      '--requests <n>',
      'HTTP requests to make in each family',
      parseCount('--requests', 3, 1000),
      30,
    )
    .addOption(
      new Option('--ip-family <family>', "the lab's address families: both, or one")
        .choices(['dual', 'ipv4', 'ipv6'])
        .default('dual'),
    )
    .option('--keep', 'leave the lab running to explore it')
    .option('-v, --verbose', "also print the lab's log lines (they are in the lab's logs/ anyway)")
    .addOption(
      new Option('-o, --output <format>', 'summary format')
        .choices(['text', 'json'])
        .default('text'),
    )
    .action(async (opts: DemoFlags, cmd: Command) => {
      const lab = labNameGiven(cmd) ?? opts.name;
      requireRoot('podnet demo');
      const { runDemo, formatSummary } = await import('../lab/demo.js');
      const { run, runBlocking } = await import('../process/run.js');
      const { podnetBin } = await import('../lab/paths.js');
      // Ctrl-C at any point: remove the lab, then stop. Blocking, so that the demo's own steps
      // (lab up writing its state, say) cannot go on and recreate what is being removed.
      const interrupted = (): void => {
        process.stderr.write('\ninterrupted: removing the lab\n');
        runBlocking([podnetBin(), 'lab', 'down', '--name', lab]);
        process.exit(130);
      };
      process.once('SIGINT', interrupted);
      process.once('SIGTERM', interrupted);
      const say = (line: string): void => void process.stderr.write(`${line}\n`);
      try {
        const summary = await runDemo(
          {
            lab,
            requests: opts.requests,
            ipFamily: opts.ipFamily,
            keep: opts.keep ?? false,
            verbose: opts.verbose ?? false,
          },
          say,
        );
        if (opts.output === 'json') process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        else process.stdout.write(`${formatSummary(summary)}\n`);
      } catch (err) {
        if (!opts.keep)
          await run([podnetBin(), 'lab', 'down', '--name', lab]).catch(() => undefined);
        throw err;
      }
    });
}
