// Kernel features a backend may need, probed the way the backend would use them: creating
// the device in a throw-away network namespace (so nothing of this host changes).
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { run } from '../process/run.js';
import { IPIP_BPF_OBJECT } from './bpf-ipip.js';

export interface FeatureCheck {
  ok: boolean;
  /** What the kernel said, when it is missing. */
  detail?: string;
}

async function probeDevice(type: string): Promise<FeatureCheck> {
  const result = await run(
    ['unshare', '--net', '--', 'ip', 'link', 'add', 'pn-probe', 'type', type],
    { okCodes: [1, 2, 255] },
  );
  if (result.code === 0) return { ok: true };
  return { ok: false, detail: result.stderr.trim() || `exit ${result.code}` };
}

export function probeIpip(): Promise<FeatureCheck> {
  return probeDevice('ipip');
}

/** The kernel's own WireGuard device; without it podnet runs wireguard-go over TUN. */
export function probeWireguard(): Promise<FeatureCheck> {
  return probeDevice('wireguard');
}

/** CONFIG_<option> from /proc/config.gz: 'y', 'm', 'n', or undefined when the file is absent. */
export function kernelConfig(option: string): string | undefined {
  let text: string;
  try {
    text = gunzipSync(readFileSync('/proc/config.gz')).toString();
  } catch {
    return undefined;
  }
  const m = new RegExp(`^CONFIG_${option}=(\\w+)$`, 'm').exec(text);
  return m ? m[1] : 'n';
}

/** This machine's kernel features, as routing's support check is given them. */
export const kernelFeatures = {
  probeIpip,
  probeWireguard,
  kernelConfig,
  hasIpipBpf: () => existsSync(IPIP_BPF_OBJECT),
};
