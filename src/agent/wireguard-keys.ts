// This node's WireGuard key: made on first start and kept in the state directory (mode 0600;
// only its public half ever leaves the node, as a Node annotation). `podnet wireguard rotate`
// asks for a new one through another annotation; the value last acted on is kept beside the
// key, so that a restarted agent does not rotate again.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WireguardKey {
  publicKey: string;
  privateKeyFile: string;
}

const KEY_FILE = 'wireguard-private-key';
const ROTATED_FILE = 'wireguard-rotated';

/** The PKCS#8 wrapping of a raw 32-byte X25519 private key (RFC 8410). */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The public key (base64, as `wg pubkey` prints it) of a private key in base64. */
export function publicKeyOf(privateKey: string): string {
  const raw = Buffer.from(privateKey, 'base64');
  if (raw.length !== 32) throw new Error('a WireGuard private key is 32 bytes');
  const key = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, raw]),
    format: 'der',
    type: 'pkcs8',
  });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url').toString('base64');
}

function newPrivateKey(): string {
  const jwk = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' });
  return Buffer.from(jwk.d!, 'base64url').toString('base64');
}

/** The key in the state directory, made there first if there is none (or it is unreadable). */
export function loadWireguardKey(stateDir: string): WireguardKey {
  const file = join(stateDir, KEY_FILE);
  if (existsSync(file)) {
    try {
      return { publicKey: publicKeyOf(readFileSync(file, 'utf8').trim()), privateKeyFile: file };
    } catch {
      // Not a key: replaced below, as on a first start.
    }
  }
  return rotateWireguardKey(stateDir);
}

/** A new key, replacing the old one in one rename (the device reads the file afterwards). */
export function rotateWireguardKey(stateDir: string): WireguardKey {
  const file = join(stateDir, KEY_FILE);
  mkdirSync(stateDir, { recursive: true });
  const key = newPrivateKey();
  writeFileSync(`${file}.tmp`, `${key}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return { publicKey: publicKeyOf(key), privateKeyFile: file };
}

/** The rotation request (annotation value) this node last acted on. */
export function lastRotation(stateDir: string): string | undefined {
  try {
    return readFileSync(join(stateDir, ROTATED_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function recordRotation(stateDir: string, request: string): void {
  writeFileSync(join(stateDir, ROTATED_FILE), `${request}\n`);
}
