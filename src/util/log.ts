// Daemon logs: one JSON object per line on stderr (CONVENTIONS.md "Daemons").
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    {
      name,
      level: process.env.PODNET_LOG_LEVEL ?? 'info',
      base: { ...bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}
