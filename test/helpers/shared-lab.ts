// One lab that the tests of a file (or of a describe block) share, with the lifecycle every
// such file wants: leftovers of killed runs swept first, the lab up before the first test and
// down after the last, whatever the tests did.
import { after, before } from 'node:test';
import { labDown, labUp, sweepStaleLabs, testLabName } from './lab.js';
import { sweepStaleNamespaces } from './names.js';

/** Registers the hooks and returns the lab's name; `flags` are those of `podnet lab up`. */
export function sharedLab(flags: string[] = []): string {
  const name = testLabName();
  before(() => {
    sweepStaleLabs();
    sweepStaleNamespaces();
    labUp(name, flags);
  });
  after(() => labDown(name));
  return name;
}
