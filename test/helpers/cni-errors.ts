// CNI unit tests check failures by their spec error code (CniError.code), not by message.
import assert from 'node:assert/strict';
import { CniError } from '../../src/cni/errors.js';

/** The CNI error code `fn` throws; fails the test when it throws anything else or nothing. */
export function cniErrorCode(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CniError);
    return err.code;
  }
  assert.fail('expected a CniError');
}
