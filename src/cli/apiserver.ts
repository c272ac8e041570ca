// `podnet apiserver`: the Kubernetes API over the cluster store, for kubectl and client
// libraries; `podnet apiserver kubeconfig` prints the admin's kubeconfig for it, and
// `podnet apiserver token` a ServiceAccount's token.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { OperationError, UsageError } from '../util/errors.js';
import { globalOptions, labInfo, labsUp, parseCount, resolveStoreUrl } from './context.js';

/** Where a host keeps the API server's certificates (docs/conventions.md, state dir). */
const HOST_STATE_DIR = '/var/lib/podnet/apiserver';

/** The state dir: --state-dir, else the lab's (when the store is a lab's), else the host's. */
function stateDir(cmd: Command, given: string | undefined): string {
  if (given) return given;
  const { store, lab } = globalOptions(cmd);
  if (store || process.env.PODNET_STORE) return HOST_STATE_DIR;
  const name = lab ?? (labsUp().length === 1 ? labsUp()[0] : undefined);
  const info = name ? labInfo(name) : undefined;
  return info ? join(info.stateDir, 'apiserver') : HOST_STATE_DIR;
}

function hostPort(flag: string, text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 0 || port > 65535) {
    throw new UsageError(`${flag} ${text}: expected HOST:PORT, e.g. 127.0.0.1:8080`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function registerApiServer(program: Command): void {
  const apiserver = program
    .command('apiserver')
    .description(
      'serve the Kubernetes API over the cluster store (HTTPS; client certificates and ServiceAccount tokens; RBAC)',
    )
    .option('--listen <addr>', 'address to serve HTTPS on', '127.0.0.1')
    .option('--port <n>', 'HTTPS port (0: any free port)', parseCount('--port', 0, 65535), 6443)
    .option('--health <host:port>', 'also serve /healthz and /readyz over plain HTTP here')
    .option(
      '--san <names>',
      'more names for the server certificate: DNS names or IPs, comma-separated',
      '',
    )
    .option(
      '--state-dir <dir>',
      "where the certificates live (default: the lab's, or /var/lib/podnet/apiserver)",
    )
    .action(async (opts, cmd: Command) => {
      const storeUrl = resolveStoreUrl(cmd);
      const dir = stateDir(cmd, opts.stateDir as string | undefined);
      const health = opts.health ? hostPort('--health', opts.health as string) : undefined;
      const sans = (opts.san as string)
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const [
        { ensurePki },
        { startApiServer },
        auth,
        tokens,
        { ensureBootstrapPolicy },
        { openStore },
        { WatchCaches },
        { createLogger },
      ] = await Promise.all([
        import('../apiserver/pki.js'),
        import('../apiserver/server.js'),
        import('../apiserver/auth.js'),
        import('../apiserver/tokens.js'),
        import('../apiserver/bootstrap-policy.js'),
        import('../store/open.js'),
        import('../apiserver/watch-cache.js'),
        import('../util/log.js'),
      ]);
      const log = createLogger('apiserver');
      const listen = opts.listen as string;
      const pki = await ensurePki(
        dir,
        listen === '0.0.0.0' || listen === '::' ? sans : [listen, ...sans],
      );
      // A write's WAL checkpoint would hold every request queued behind it (sqlite-checkpoints.ts).
      const store = await openStore(storeUrl, { checkpointsInBackground: true });
      const made = await ensureBootstrapPolicy(store);
      if (made.length > 0) log.info({ made }, 'default RBAC roles and bindings made');
      const signingKey = createPrivateKey(readFileSync(pki.serviceAccountKey, 'utf8'));
      const issuer = tokens.DEFAULT_ISSUER;
      const caches = new WatchCaches(store);
      const server = await startApiServer({
        store,
        caches,
        host: listen,
        port: opts.port as number,
        tls: {
          key: readFileSync(pki.serverKey, 'utf8'),
          cert: readFileSync(pki.serverCert, 'utf8'),
          ca: readFileSync(pki.caCert, 'utf8'),
        },
        authenticators: [
          auth.clientCertificates,
          tokens.serviceAccountTokens({
            publicKey: createPublicKey(signingKey),
            issuer,
            audiences: [issuer],
            lookup: (ns, name) => caches.object('ServiceAccount', ns, name),
          }),
          auth.unknownBearerTokens,
        ],
        authorizer: auth.rbacAuthorizer(store, caches),
        issueToken: (account, spec) =>
          tokens.issueToken(signingKey, account, spec, { issuer, now: new Date() }),
        log,
        health,
      });
      // `podnet apiserver kubeconfig` points clients at the address actually served. Written
      // whole and then renamed: whoever waits for the file never reads it empty.
      writeFileSync(join(dir, 'server-url.new'), `${server.url}\n`);
      renameSync(join(dir, 'server-url.new'), join(dir, 'server-url'));
      log.info({ url: server.url, health: server.healthUrl, store: store.url }, 'serving');
      const stop = async () => {
        await server.close();
        await store.close();
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop());
      process.once('SIGINT', () => void stop());
    });

  apiserver
    .command('kubeconfig')
    .description('print a kubeconfig for the admin (client certificate in group system:masters)')
    .option('--server <url>', 'the API server URL (default: the address it serves on)')
    .option('--state-dir <dir>', 'where the certificates live (as given to podnet apiserver)')
    .action(async (_opts, cmd: Command) => {
      // --state-dir may stand before the sub-command too (then `apiserver` parsed it).
      const opts = cmd.optsWithGlobals();
      const dir = stateDir(cmd, opts.stateDir as string | undefined);
      const { pkiPaths } = await import('../apiserver/pki.js');
      const { adminKubeconfig } = await import('../apiserver/kubeconfig.js');
      const pki = pkiPaths(dir);
      if (!existsSync(pki.adminCert)) {
        throw new OperationError(
          `${dir}: no certificates yet; start 'podnet apiserver' once (it makes them) or give --state-dir`,
        );
      }
      const urlFile = join(dir, 'server-url');
      const server =
        (opts.server as string | undefined) ??
        (existsSync(urlFile) ? readFileSync(urlFile, 'utf8').trim() : 'https://127.0.0.1:6443');
      process.stdout.write(adminKubeconfig(pki, server));
    });

  apiserver
    .command('token')
    .description(
      "print a token for a ServiceAccount (signed with the server's key, as `kubectl create token`)",
    )
    .argument('<serviceaccount>', 'the ServiceAccount')
    .option('-n, --namespace <ns>', "the ServiceAccount's namespace", 'default')
    .option(
      '--duration <d>',
      'how long the token is valid: 10m at least, e.g. 1h, 90m, 3600s',
      '1h',
    )
    .option('--audience <aud>', 'whom the token is for (default: the API server itself)')
    .option('--state-dir <dir>', 'where the signing key lives (as given to podnet apiserver)')
    .action(async (name: string, _opts, cmd: Command) => {
      const opts = cmd.optsWithGlobals();
      const seconds = parseDuration('--duration', opts.duration as string);
      const dir = stateDir(cmd, opts.stateDir as string | undefined);
      const [{ pkiPaths }, tokens, { openStore }, { getObject }] = await Promise.all([
        import('../apiserver/pki.js'),
        import('../apiserver/tokens.js'),
        import('../store/open.js'),
        import('../store/objects.js'),
      ]);
      if (seconds < tokens.MIN_EXPIRATION_SECONDS) {
        throw new UsageError(`--duration ${opts.duration as string}: must be at least 10m`);
      }
      const keyFile = pkiPaths(dir).serviceAccountKey;
      if (!existsSync(keyFile)) {
        throw new OperationError(
          `${dir}: no token signing key yet; start 'podnet apiserver' once (it makes it) or give --state-dir`,
        );
      }
      const namespace = opts.namespace as string;
      const store = await openStore(resolveStoreUrl(cmd));
      try {
        const account = await getObject(store, 'ServiceAccount', namespace, name);
        if (!account) throw new OperationError(`serviceaccount ${namespace}/${name} not found`);
        const audience = opts.audience as string | undefined;
        const { token } = tokens.issueToken(
          createPrivateKey(readFileSync(keyFile, 'utf8')),
          account,
          { expirationSeconds: seconds, audiences: audience ? [audience] : undefined },
          { issuer: tokens.DEFAULT_ISSUER, now: new Date() },
        );
        process.stdout.write(`${token}\n`);
      } finally {
        await store.close();
      }
    });
}

/** A Go-style duration (`1h`, `1h30m`, `90m`, `3600s`) in whole seconds. */
function parseDuration(flag: string, text: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1 };
  const parts = [...text.matchAll(/(\d+)([hms])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new UsageError(`${flag} ${text}: expected a duration such as 1h, 90m or 3600s`);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}
