// Daemon logs: one JSON object per line on stderr (the project's conventions for daemons), or
// into a log file for a command whose stderr is for people.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export function createLogger(
  name: string,
  bindings: Record<string, unknown> = {},
  destination: DestinationStream = pino.destination({ fd: 2, sync: true }),
): Logger {
  return pino(
    {
      name,
      level: process.env.PODNET_LOG_LEVEL ?? 'info',
      base: { ...bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** Logs appended to `path`, and on stderr as well when `alsoStderr` (a command's -v). */
export function createFileLogger(
  name: string,
  bindings: Record<string, unknown>,
  path: string,
  alsoStderr: boolean,
): Logger {
  const file = pino.destination({ dest: path, sync: true, append: true, mkdir: true });
  const destination = alsoStderr
    ? pino.multistream([{ stream: file }, { stream: pino.destination({ fd: 2, sync: true }) }])
    : file;
  return createLogger(name, bindings, destination);
}
