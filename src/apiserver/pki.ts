// The cluster's certificates, made with Debian's openssl on first start under the state dir:
// a CA, the server's certificate (names clients reach it by), and an admin client certificate
// (CN admin, O system:masters), and the key that signs ServiceAccount tokens. The CA, the admin
// certificate and the token key are kept across restarts (tokens stay valid); the server
// certificate is made again when the names it must carry change.
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../process/run.js';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  /** The private key (PEM) that signs ServiceAccount tokens. */
  serviceAccountKey: string;
}

export function pkiPaths(dir: string): Pki {
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'apiserver.crt'),
    serverKey: join(dir, 'apiserver.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
    serviceAccountKey: join(dir, 'sa.key'),
  };
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const DAYS = '3650';

/**
 * Makes whatever is missing. `names` are the server's DNS names and IP addresses
 * (127.0.0.1 and localhost are always in).
 */
export async function ensurePki(dir: string, names: readonly string[]): Promise<Pki> {
  const p = pkiPaths(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await ensureCa(p, '/CN=podnet-ca');
  const sans = subjectAltNames(['127.0.0.1', 'localhost', ...names]);
  const sansFile = join(dir, 'apiserver.sans');
  const current = existsSync(sansFile) ? readFileSync(sansFile, 'utf8') : '';
  if (!existsSync(p.serverCert) || current !== sans) {
    await signed(p, 'apiserver', '/CN=podnet-apiserver', [
      `subjectAltName=${sans}`,
      'extendedKeyUsage=serverAuth',
    ]);
    writeFileSync(sansFile, sans);
  }
  if (!existsSync(p.adminCert)) {
    await signed(p, 'admin', '/O=system:masters/CN=admin', ['extendedKeyUsage=clientAuth']);
  }
  if (!existsSync(p.serviceAccountKey)) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(p.serviceAccountKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });
  }
  return p;
}

/** A CA key and its self-signed certificate, unless both are there (also the lab's etcd CA). */
export async function ensureCa(p: Pick<Pki, 'caCert' | 'caKey'>, subject: string): Promise<void> {
  if (existsSync(p.caCert) && existsSync(p.caKey)) return;
  await run([
    'openssl',
    'req',
    '-x509',
    ...KEY,
    '-keyout',
    p.caKey,
    '-out',
    p.caCert,
    '-days',
    DAYS,
    '-subj',
    subject,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  chmodSync(p.caKey, 0o600);
}

/** `IP:a,DNS:b,...` for a certificate's subjectAltName. */
export function subjectAltNames(names: readonly string[]): string {
  const unique = [...new Set(names)];
  return unique.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
}

/**
 * A key and a certificate for it signed by the CA, with the given extensions (also the lab's
 * etcd certificates).
 */
export async function signed(
  p: Pick<Pki, 'dir' | 'caCert' | 'caKey'>,
  base: string,
  subject: string,
  extensions: string[],
) {
  const key = join(p.dir, `${base}.key`);
  const csr = join(p.dir, `${base}.csr`);
  const ext = join(p.dir, `${base}.ext`);
  writeFileSync(
    ext,
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n${extensions.join('\n')}\n`,
  );
  await run(['openssl', 'req', '-new', ...KEY, '-keyout', key, '-out', csr, '-subj', subject]);
  await run([
    'openssl',
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    p.caCert,
    '-CAkey',
    p.caKey,
    '-CAcreateserial',
    '-days',
    DAYS,
    '-out',
    join(p.dir, `${base}.crt`),
    '-extfile',
    ext,
  ]);
  chmodSync(key, 0o600);
  // The request and its extensions were only the way to the certificate.
  rmSync(csr);
  rmSync(ext);
}
