// A BGP peer's TCP-MD5 key, kept in a file of its own (the standalone speaker's passwordFile,
// a BGPPeer's spec.passwordFile) so that the key itself is in no config, object or log.
import { readFileSync } from 'node:fs';
import { errorMessage } from '../util/errors.js';

/** The largest key TCP_MD5SIG takes. */
export const MAX_KEY_BYTES = 80;

/**
 * The key a password file holds: one line of 1 to 80 bytes (a trailing newline is not part of
 * it). Throws a one-line Error naming the file, never the key.
 */
export function readPasswordFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(errorMessage(err));
  }
  const key = text.replace(/\r?\n$/, '');
  if (key.length < 1 || Buffer.byteLength(key) > MAX_KEY_BYTES || /[\r\n]/.test(key)) {
    throw new Error(`${path}: the key must be one line of 1 to ${MAX_KEY_BYTES} bytes`);
  }
  return key;
}
