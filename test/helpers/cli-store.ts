// The real CLI (`bin/podnet`) against a SQLite store of the test's own in a temporary folder,
// with manifests written beside it: what a user types, without a lab or an API server.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const podnet = new URL('../../../bin/podnet', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

export class CliOnTempStore {
  readonly dir: string;
  readonly storeUrl: string;

  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.storeUrl = `sqlite:${join(this.dir, 'store.db')}`;
  }

  /** Runs `podnet --store <this store> ...args`; PODNET_STORE is cleared so it cannot win. */
  readonly cli = (args: string[], input?: string): CliResult => {
    const r = spawnSync(podnet, ['--store', this.storeUrl, ...args], {
      encoding: 'utf8',
      input,
      env: { ...process.env, PODNET_STORE: '' },
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  /** Writes a manifest file in the store's folder and returns its path. */
  readonly manifest = (name: string, text: string): string => {
    const file = join(this.dir, name);
    writeFileSync(file, text);
    return file;
  };

  /** Objects go only into namespaces that exist: the tests' namespaces are applied first. */
  createNamespaces(names: string[]): void {
    for (const name of names) {
      const r = this.cli(
        ['apply', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }),
      );
      assert.equal(r.code, 0, r.err);
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
