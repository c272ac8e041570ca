// Where the repo's own programs are, so lab processes run the same build as the caller.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The repo's `bin/` (this file is dist/src/lab/paths.js once built). */
export function repoBinDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin');
}

export function podnetBin(): string {
  return join(repoBinDir(), 'podnet');
}
