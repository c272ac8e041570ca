// `lab up --store etcd --tls`: a CA of the lab's own, one certificate per member (it serves
// clients and its peers with it, and shows it to them), and the client certificate every lab
// process presents. Made with openssl, as the API server's certificates are.
import { mkdirSync } from 'node:fs';
import { ensureCa, signed, subjectAltNames } from '../apiserver/pki.js';
import type { EtcdMemberPlan, EtcdPkiPaths } from './etcd-plan.js';

export async function makeEtcdPki(
  pki: EtcdPkiPaths,
  members: readonly EtcdMemberPlan[],
): Promise<void> {
  mkdirSync(pki.dir, { recursive: true, mode: 0o700 });
  const ca = { dir: pki.dir, caCert: pki.ca, caKey: pki.caKey };
  await ensureCa(ca, '/CN=podnet-lab-etcd-ca');
  // Every member's address in each certificate: the members share the underlay namespace, so
  // a peer's connection comes from whichever of their addresses the kernel picks, and etcd
  // checks a peer's address against its certificate. 127.0.0.1: `podnet` on the machine
  // reaches each member through a loopback relay.
  const names = subjectAltNames([...members.map((m) => m.address), '127.0.0.1']);
  // One after another: openssl keeps the CA's next serial number in one file.
  for (const m of members) {
    await signed(ca, m.name, `/CN=${m.name}`, [
      `subjectAltName=${names}`,
      // Server for clients and peers; client when it dials its peers.
      'extendedKeyUsage=serverAuth,clientAuth',
    ]);
  }
  await signed(ca, 'client', '/CN=podnet', ['extendedKeyUsage=clientAuth']);
}
