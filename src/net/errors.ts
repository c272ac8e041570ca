// Addresses read from people and from the store fail differently: a flag or manifest field is
// bad input (exit 2), a stored object's field is bad data (exit 1) that names the object.
import { DataError, UsageError } from '../util/errors.js';
import { AddressError } from './address.js';

/** `parse(text)`, its AddressError turned into a UsageError naming `what` (a flag or field). */
export function parseInput<T>(parse: (text: string) => T, text: string, what: string): T {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof AddressError) throw new UsageError(`${what} ${err.message}`);
    throw err;
  }
}

/**
 * `parse(text)` for a field of an object read from the store, its AddressError turned into a
 * DataError naming the object (`Node node-3`) and the field (`spec.podCIDR`).
 */
export function parseStored<T>(
  parse: (text: string) => T,
  text: string,
  object: string,
  field: string,
): T {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof AddressError) throw new DataError(`${object}: ${field} ${err.message}`);
    throw err;
  }
}
