// `wg show <dev> dump` as data: the first line is the device (private key, public key, listen
// port, fwmark), each further line a peer (public key, preshared key, endpoint, allowed IPs,
// latest handshake, rx bytes, tx bytes, keepalive), tab-separated; `(none)` for nothing.
// Peers come back sorted by public key: wireguard-go lists them in Go map order, which changes
// from one read to the next, and a reading should not.
import type { ActualWireguard } from './netobjects.js';
import { OperationError } from '../util/errors.js';

export function parseWireguardDump(text: string): ActualWireguard {
  const [device, ...peers] = text.split('\n').filter((l) => l.trim() !== '');
  const fields = device?.split('\t') ?? [];
  if (fields.length < 4) {
    throw new OperationError(
      `could not read the output of wg show dump: ${JSON.stringify(device)}`,
    );
  }
  return {
    publicKey: none(fields[1]),
    listenPort: Number(fields[2]),
    peers: peers
      .map((line) => {
        const f = line.split('\t');
        if (f.length < 8) {
          throw new OperationError(
            `could not read a peer in wg show dump: ${JSON.stringify(line)}`,
          );
        }
        const allowed = none(f[3]);
        return {
          publicKey: f[0]!,
          endpoint: none(f[2]) ?? '',
          allowedIPs: allowed ? allowed.split(',') : [],
          latestHandshake: Number(f[4]),
          rxBytes: Number(f[5]),
          txBytes: Number(f[6]),
        };
      })
      .sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0)),
  };
}

function none(field: string | undefined): string | undefined {
  return field === undefined || field === '(none)' ? undefined : field;
}
