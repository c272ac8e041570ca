// Every object in deploy/kubernetes/ against Kubernetes' own API models: the field names and
// types of python3-kubernetes' generated classes (and, for podnet.io kinds, the CRDs' schemas),
// walked by test/kube-models/check.py. The fixtures show the check refuses what it must.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DEPLOY_DIR as DEPLOY,
  MODEL_FIXTURES as FIXTURES,
  REPO_ROOT as ROOT,
  deployManifests,
} from '../helpers/deploy-manifests.js';

/** python3-kubernetes is Debian's and needs Debian's python, not whatever python3 is first. */
function checkModels(files: string[]): { code: number | null; out: string } {
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'test/kube-models/check.py'), ...files], {
    encoding: 'utf8',
  });
  assert.equal(r.stderr, '', r.stderr);
  return { code: r.status, out: r.stdout };
}

test('every object in deploy/kubernetes/ matches the Kubernetes models', () => {
  const manifests = deployManifests();
  assert.ok(manifests.length >= 5, `only ${manifests.length} manifests in ${DEPLOY}`);
  const r = checkModels(manifests);
  assert.equal(r.out, '');
  assert.equal(r.code, 0);
});

test('a misspelled field (hostNetwrok) fails the check, named with its path', () => {
  const r = checkModels([join(FIXTURES, 'misspelled-host-network.yaml')]);
  assert.equal(r.code, 1);
  assert.match(
    r.out,
    /DaemonSet kube-system\/misspelled: spec\.template\.spec\.hostNetwrok: not a field of V1PodSpec/,
  );
});

test('wrong types, missing required fields and CRD schema violations fail the check', () => {
  const r = checkModels([join(DEPLOY, '00-crds.yaml'), join(FIXTURES, 'wrong-types.yaml')]);
  assert.equal(r.code, 1);
  assert.deepEqual(
    r.out
      .trim()
      .split('\n')
      .map((l) => l.replace(/^.*?: /, '')),
    [
      "Service kube-system/wrong-types: spec.ports[0].port: must be int, got str '53'",
      'Service kube-system/wrong-types: spec.ports[1].port: required by V1ServicePort',
      'BGPPeer tor: spec.asNumber: must be at least 1',
      'BGPPeer tor: spec.nodeSelecter: not in the schema',
    ],
  );
});
