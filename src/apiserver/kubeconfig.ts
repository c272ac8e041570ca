// A kubeconfig for the admin: the server, the CA that signed its certificate, and the admin's
// client certificate and key, all inline so the file stands alone.
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { Pki } from './pki.js';

const b64 = (file: string) => readFileSync(file).toString('base64');

export function adminKubeconfig(pki: Pki, server: string, name = 'podnet'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': b64(pki.caCert) } }],
    users: [
      {
        name: `${name}-admin`,
        user: {
          'client-certificate-data': b64(pki.adminCert),
          'client-key-data': b64(pki.adminKey),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin` } }],
    'current-context': name,
    preferences: {},
  });
}
