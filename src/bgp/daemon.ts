// A speaker as a process: runs it from a config and serves its status (sessions and Loc-RIB)
// as JSON on a unix socket, for `podnet bgp status` and for tests.
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from '../util/log.js';
import { OperationError, UsageError } from '../util/errors.js';
import { startTcpMd5Relay, type TcpMd5Relay } from '../kernel/tcp-md5.js';
import { readPasswordFile } from './password-file.js';
import { Speaker, type PeerConfig, type PeerStatus, type RefusedReason } from './speaker.js';
import { applyRouteLines, readPodnetRoutes } from '../kernel/bgp-routes.js';
import { routeLines } from './kernel-routes.js';
import { formatIpv4Key } from './prefix-key.js';
import { errorMessage } from '../util/errors.js';
import type { StandaloneConfig } from './config.js';
import type { Path } from './policy.js';

export interface RouteStatus {
  prefix: string;
  nextHop: string;
  /** 'local' for our own prefixes, else the peer address it was learnt from. */
  from: string;
  asPath: number[];
  stale: boolean;
  originatorId?: string;
  clusterList?: string[];
}

export interface SpeakerStatus {
  asNumber: number;
  bgpId: string;
  peers: PeerStatus[];
  routes: RouteStatus[];
  /** Connections closed unread, by reason. */
  refusedConnections: Record<RefusedReason, number>;
}

export function speakerStatus(
  speaker: Speaker,
  withRoutes = true,
): SpeakerStatus & { routeCount: number } {
  const routes: RouteStatus[] = [];
  const locRib = speaker.rib.locRib();
  const locRib6 = speaker.rib6.locRib();
  const both: [string, Path][] = withRoutes
    ? [
        ...[...locRib].map(([prefix, path]): [string, Path] => [formatIpv4Key(prefix), path]),
        ...locRib6,
      ]
    : [];
  for (const [prefix, path] of both) {
    routes.push({
      prefix,
      nextHop: path.attrs.nextHop ?? 'self',
      from: path.source.key,
      asPath: path.attrs.asPath.flatMap((s) => s.asns),
      stale: path.stale,
      ...(path.attrs.originatorId ? { originatorId: path.attrs.originatorId } : {}),
      ...(path.attrs.clusterList ? { clusterList: path.attrs.clusterList } : {}),
    });
  }
  return {
    asNumber: speaker.config.asNumber,
    bgpId: speaker.config.bgpId,
    peers: speaker.status(),
    routes,
    refusedConnections: speaker.refusedConnections(),
    routeCount: locRib.size + locRib6.size,
  };
}

/** Serves GET /status (add ?routes=0 to leave the Loc-RIB out) on a unix socket. */
export async function serveStatus(speaker: Speaker, socketPath: string): Promise<Server> {
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://speaker');
    if (url.pathname !== '/status') {
      res.writeHead(404).end();
      return;
    }
    const status = speakerStatus(speaker, url.searchParams.get('routes') !== '0');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return server;
}

/** Reads a speaker's status from its socket. */
export function fetchStatus(
  socketPath: string,
  withRoutes = true,
): Promise<SpeakerStatus & { routeCount: number }> {
  return new Promise((resolve, reject) => {
    // A connection of its own: one kept alive from an earlier read can be closed by the
    // server's idle timeout just as it is reused, and the read then fails with ECONNRESET.
    const req = request(
      { socketPath, path: withRoutes ? '/status' : '/status?routes=0', agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString()));
          } catch (err) {
            reject(new OperationError(`bad status from ${socketPath}: ${String(err)}`));
          }
        });
      },
    );
    req.on('error', (err) =>
      reject(new OperationError(`cannot reach the BGP speaker at ${socketPath}: ${err.message}`)),
    );
    req.end();
  });
}

/**
 * Runs a standalone speaker until SIGTERM/SIGINT. SIGTERM leaves as a restart would (no
 * NOTIFICATION, so graceful-restart peers keep our routes); SIGINT says goodbye with a Cease.
 */
export async function runSpeaker(
  config: StandaloneConfig,
  statusSocket: string | undefined,
  log: Logger,
): Promise<void> {
  const peers = config.peers.map(withPassword);
  const relay = await tcpMd5Relay(config, peers);
  const speaker = new Speaker(relay ? { ...config.speaker, tcpMd5: relay } : config.speaker, log);
  await speaker.listen();
  speaker.setLocalPrefixes(config.localPrefixes);
  speaker.setPeers(peers);
  // Deferral: how long a restarted speaker keeps kernel routes its peers have not re-sent.
  if (config.installRoutes)
    syncKernelRoutes(speaker, log, Math.min(config.speaker.gracefulRestartTime ?? 30, 30));
  const server = statusSocket ? await serveStatus(speaker, statusSocket) : undefined;
  log.info({ as: config.speaker.asNumber, id: config.speaker.bgpId }, 'BGP speaker started');
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  await speaker.stop({ restarting: signal === 'SIGTERM' });
  await relay?.stop();
  if (relay) rmSync(dirname(relay.speakerSocket), { recursive: true, force: true });
  server?.close();
  if (statusSocket) rmSync(statusSocket, { force: true });
}

/** A peer with the key its passwordFile holds. */
function withPassword(peer: StandaloneConfig['peers'][number]): PeerConfig {
  const { passwordFile, ...rest } = peer;
  if (passwordFile === undefined) return rest;
  try {
    return { ...rest, password: readPasswordFile(passwordFile) };
  } catch (err) {
    throw new UsageError(`peer ${peer.address}: passwordFile: ${errorMessage(err)}`);
  }
}

/** With any keyed peer, the TCP-MD5 helper takes the listen address and port over. */
async function tcpMd5Relay(
  config: StandaloneConfig,
  peers: PeerConfig[],
): Promise<TcpMd5Relay | undefined> {
  const keys = new Map<string, string>();
  for (const p of peers) if (p.password !== undefined) keys.set(p.address, p.password);
  if (keys.size === 0) return undefined;
  const listenAddress = config.speaker.listenAddress;
  // Relayed connections do not show our address: the next hop we announce must be given.
  if (!listenAddress) throw new UsageError('listenAddress: required when a peer has passwordFile');
  return startTcpMd5Relay({
    listenAddress,
    listenPort: config.speaker.listenPort ?? 179,
    keys,
    dir: mkdtempSync(join(tmpdir(), 'podnet-bgp-md5-')),
  });
}

/**
 * Keeps the kernel's podnet routes equal to the learnt routes: the kernel is read once (and
 * again after a failure); each batch of changes is applied as one `ip -batch` of differences.
 */
function syncKernelRoutes(speaker: Speaker, log: Logger, deferralSeconds: number): void {
  const deferUntil = Date.now() + deferralSeconds * 1000;
  setTimeout(() => void sync(), deferralSeconds * 1000 + 10).unref();
  let installed: Map<string, string> | undefined;
  let running = false;
  let again = false;
  const sync = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    do {
      again = false;
      try {
        installed ??= await readPodnetRoutes();
        // Until every peer has sent its End-of-RIB (or the deferral time is over), routes
        // already in the kernel stay: after a restart they are about to be learnt again.
        const deferring = Date.now() < deferUntil && !speaker.initialTableComplete();
        const wanted = new Map<string, string>(deferring ? installed : []);
        for (const [prefix, r] of speaker.learnedRoutes()) wanted.set(prefix, r.nextHop);
        const lines = routeLines(wanted, installed);
        await applyRouteLines(lines);
        installed = wanted;
        if (lines.length) log.info({ changes: lines.length }, 'kernel routes updated');
      } catch (err) {
        installed = undefined;
        log.error({ err: errorMessage(err) }, 'kernel route sync failed; retrying');
        setTimeout(() => void sync(), 1000).unref();
      }
    } while (again);
    running = false;
  };
  speaker.onRoutesChanged(() => void sync());
  void sync();
}
