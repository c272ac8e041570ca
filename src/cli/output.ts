// The `-o` formats of every verb, one set for all (kubectl's): each verb accepts the ones it
// can print, and anything else is refused with the valid ones named (exit 2).
import { Option } from 'commander';

export const OUTPUT_FORMATS = ['json', 'yaml', 'wide'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o, --output` accepting only `formats` (a subset of OUTPUT_FORMATS). */
export function outputOption(formats: readonly OutputFormat[]): Option {
  return new Option('-o, --output <format>', `output format: ${formats.join(', ')}`).choices(
    formats,
  );
}
