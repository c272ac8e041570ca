// The VTEP MAC a node's VXLAN device carries. It must stay the same across agent restarts:
// peers hold it in permanent neighbour and FDB entries, and a MAC that changes under them is
// a recurring outage in flannel (#1795, #1330). The agent keeps it in its state directory.

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function isMac(text: string): boolean {
  return MAC.test(text);
}

/** A unicast, locally administered MAC from six random bytes. */
export function vtepMacFrom(random: Uint8Array): string {
  const bytes = Array.from(random.subarray(0, 6));
  if (bytes.length !== 6) throw new Error('a MAC needs six bytes');
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
