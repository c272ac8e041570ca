// The lab's container images, built here because no registry is reachable: a root filesystem
// of Debian's busybox-static as a docker-archive tar (what `ctr images import` reads). The
// sandbox image only holds the pod's namespaces open; the workload image runs the commands of
// the Pod's containers.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { OperationError } from '../util/errors.js';
import { tarArchive, type TarEntry } from './tar.js';

export const BUSYBOX = '/bin/busybox';
export const SANDBOX_IMAGE = 'localhost/podnet-lab/pause:1';
export const WORKLOAD_IMAGE = 'localhost/podnet-lab/busybox:1';

/** Busybox applets a lab container is likely to call by name (the rest: `busybox <applet>`). */
const APPLETS = [
  'sh',
  'cat',
  'echo',
  'env',
  'hostname',
  'ip',
  'ls',
  'nc',
  'nslookup',
  'ping',
  'sleep',
  'wget',
  'httpd',
  'true',
  'false',
  'kill',
  'ps',
  'grep',
  'readlink',
  'dirname',
];

export interface ImageSpec {
  name: string;
  entrypoint?: string[];
  cmd?: string[];
}

/** The layer: busybox, its applet links, and the directories a runtime mounts over. */
export function busyboxLayer(busybox: Buffer): Buffer {
  const dirs = ['bin', 'dev', 'etc', 'proc', 'sys', 'tmp', 'var', 'www'];
  const entries: TarEntry[] = [
    ...dirs.map((d): TarEntry => ({ kind: 'dir', path: d, mode: d === 'tmp' ? 0o1777 : 0o755 })),
    { kind: 'file', path: 'bin/busybox', mode: 0o755, data: busybox },
    ...APPLETS.map((a): TarEntry => ({ kind: 'symlink', path: `bin/${a}`, target: 'busybox' })),
  ];
  return tarArchive(entries);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A docker-archive of one image with the given layer, tagged `spec.name`. */
export function dockerArchive(spec: ImageSpec, layer: Buffer): Buffer {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {
        Env: ['PATH=/bin'],
        ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layer)}`] },
    }),
  );
  const configFile = `${sha256(config)}.json`;
  const manifest = [{ Config: configFile, RepoTags: [spec.name], Layers: ['layer.tar'] }];
  return tarArchive([
    {
      kind: 'file',
      path: 'manifest.json',
      mode: 0o644,
      data: Buffer.from(JSON.stringify(manifest)),
    },
    { kind: 'file', path: configFile, mode: 0o644, data: config },
    { kind: 'file', path: 'layer.tar', mode: 0o644, data: layer },
  ]);
}

/**
 * The two lab images. The sandbox's process only waits (signals end it: as PID 1 it has no
 * default handlers, so the runtime's SIGKILL does); the workload's default command does too.
 */
export function labImages(): { spec: ImageSpec; archive: Buffer }[] {
  let busybox: Buffer;
  try {
    busybox = readFileSync(BUSYBOX);
  } catch {
    throw new OperationError(`${BUSYBOX} is missing: install busybox-static (make deps)`);
  }
  const layer = busyboxLayer(busybox);
  const forever = ['sleep', '2147483647'];
  const specs: ImageSpec[] = [
    { name: SANDBOX_IMAGE, entrypoint: [`/bin/busybox`, ...forever] },
    { name: WORKLOAD_IMAGE, cmd: forever },
  ];
  return specs.map((spec) => ({ spec, archive: dockerArchive(spec, layer) }));
}
