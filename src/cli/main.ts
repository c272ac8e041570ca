// The `podnet` command. Each verb group lives in its own file and registers itself here;
// only the verb group a command line names is loaded, and the work behind a verb only when that
// verb runs, so start-up stays small.
import { Command, CommanderError } from 'commander';
import { errorMessage } from '../util/errors.js';
import { registerVerbs } from './verbs.js';

export async function buildProgram(args: readonly string[]): Promise<Command> {
  const program = new Command('podnet')
    .description('Kubernetes-style pod networking for Linux hosts')
    .version('0.1.0')
    .option(
      '--store <url>',
      'cluster store: sqlite:PATH or etcd:HOST:PORT[,...] (env PODNET_STORE)',
    )
    .option('--lab <name>', 'talk to this lab (default: the one lab that is up)')
    .option('--kubeconfig <path>', 'read the cluster from the Kubernetes API this kubeconfig names')
    .option(
      '--in-cluster',
      "read the cluster from the Kubernetes API as this pod's service account",
    )
    .option('--api-server <url>', 'reach the Kubernetes API at https://HOST:PORT directly')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  await registerVerbs(program, args);
  // Every sub-command reports usage errors through the same path (exit 2, one line).
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  program.commands.forEach(override);
  return program;
}

/** Maps an error to the documented exit code and prints one line for people. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and version requests are not failures; commander already printed its message.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    if (err.code === 'commander.help') return 0;
    return 2;
  }
  const code = (err as { exitCode?: number }).exitCode;
  const exitCode = code === 2 || code === 1 ? code : 1;
  if (process.env.PODNET_DEBUG === '1' && err instanceof Error) {
    process.stderr.write(`${err.stack}\n`);
  } else {
    process.stderr.write(`error: ${errorMessage(err)}\n`);
  }
  return exitCode;
}

async function main(): Promise<void> {
  try {
    await (await buildProgram(process.argv.slice(2))).parseAsync(process.argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err);
  }
}

// Unhandled rejections from daemons end the process with a message, not a silent hang.
process.on('unhandledRejection', (err) => {
  process.exit(exitCodeFor(err));
});

await main();
