// CNI errors: the spec's numeric codes and the error JSON a plugin prints on stdout.
// Codes below 100 are the spec's; 100 and up are podnet's own (the spec reserves them for
// plugins). Every message names what failed and on what, for the person reading kubelet logs.

export const CNI_ERR = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  io: 5,
  decode: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  notAvailable: 50,
  notAvailableDisruptive: 51,
  /** CNI_IFNAME already exists in the container (the spec says ADD must fail). */
  interfaceExists: 100,
  /** The node's pod subnet has no free address. */
  noAddresses: 101,
  /** A kernel or store operation failed. */
  internal: 102,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details?: string,
  ) {
    super(message);
    this.name = 'CniError';
  }
}

export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export function errorJson(cniVersion: string, err: CniError): CniErrorJson {
  const out: CniErrorJson = { cniVersion, code: err.code, msg: err.message };
  if (err.details) out.details = err.details;
  return out;
}
