// The configuration of a standalone speaker (`podnet bgp speaker --config FILE`), checked
// field by field so that a mistake is reported as one line naming the field.
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../util/errors.js';
import { isIPv4, tryParseCidr } from '../net/index.js';
import type { PeerConfig, SpeakerConfig } from './speaker.js';

const ipv4 = z
  .string()
  .refine(isIPv4, 'must be an IPv4 address: four decimal octets without leading zeros');
const asn = z.number().int().min(1).max(4294967295);
const holdTime = z
  .number()
  .int()
  .refine((n) => n === 0 || (n >= 3 && n <= 65535), 'must be 0 or 3..65535 seconds');

const peerSchema = z.strictObject({
  address: ipv4,
  asNumber: asn,
  port: z.number().int().min(1).max(65535).optional(),
  passive: z.boolean().optional(),
  rrClient: z.boolean().optional(),
  localAddress: ipv4.optional(),
  holdTime: holdTime.optional(),
  /** A file holding the session's TCP-MD5 key: the key itself is never in the config. */
  passwordFile: z.string().min(1).optional(),
});

const speakerSchema = z.strictObject({
  asNumber: asn,
  bgpId: ipv4,
  routeReflector: z.boolean().optional(),
  clusterId: ipv4.optional(),
  listenAddress: ipv4.optional(),
  listenPort: z.number().int().min(0).max(65535).optional(),
  holdTime: holdTime.optional(),
  connectRetryTime: z.number().int().min(1).optional(),
  idleHoldTime: z.number().int().min(0).optional(),
  gracefulRestartTime: z.number().int().min(0).max(4095).optional(),
  restarting: z.boolean().optional(),
  ipv6Unicast: z.boolean().optional(),
  localPrefixes: z
    .array(
      z
        .string()
        .refine(
          (s) => tryParseCidr(s, { loose: true })?.family === 4,
          'must be an IPv4 CIDR (e.g. 10.244.1.0/24)',
        ),
    )
    .optional(),
  peers: z.array(peerSchema).optional(),
  /** Install learnt routes in this namespace's kernel (proto 80), as BIRD's kernel protocol. */
  installRoutes: z.boolean().optional(),
});

export interface StandaloneConfig {
  speaker: SpeakerConfig;
  peers: (PeerConfig & { passwordFile?: string })[];
  localPrefixes: string[];
  installRoutes: boolean;
}

/** Parses YAML or JSON text; throws UsageError naming the first bad field. */
export function parseSpeakerConfig(text: string, source: string): StandaloneConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new UsageError(`${source}: not YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const result = speakerSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.') || '(top level)';
    throw new UsageError(`${source}: field ${field}: ${issue.message}`);
  }
  const { peers = [], localPrefixes = [], installRoutes = false, ...speaker } = result.data;
  return { speaker, peers, localPrefixes, installRoutes };
}
