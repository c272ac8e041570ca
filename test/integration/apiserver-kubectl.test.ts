// kubectl 1.32 (the machine's /usr/bin/kubectl) and 1.20 (the oldest client served) against
// `podnet apiserver` on 127.0.0.1 over a temporary SQLite store: what people do with kubectl
// every day works, objects written through it are the ones `podnet get` sees and the other way
// round, and refusals read the way kubectl users know them. Where the two versions print
// differently, each is held to its own output.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkRelistAfterCompaction,
  KUBECTLS,
  ok,
  startTempApiServer,
  type TempApiServer,
} from '../helpers/apiserver.js';
import { waitFor } from '../helpers/wait.js';

const DEMO = new URL('../../../examples/demo.yaml', import.meta.url).pathname;

for (const kubectl of KUBECTLS)
  describe(`kubectl ${kubectl.version}`, () => {
    const old = kubectl.version === '1.20';
    let api: TempApiServer;

    before(async () => {
      api = await startTempApiServer('pnt-apiserver-', { kubectlBin: kubectl.bin });
    });

    after(async () => {
      await api?.close();
    });

    function file(name: string, text: string): string {
      const path = join(api.dir, name);
      writeFileSync(path, text);
      return path;
    }

    /** A pod of my-namespace with the one container `container` (YAML flow), as YAML. */
    function podYaml(name: string, container: string): string {
      return `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: my-namespace}\nspec:\n  containers: [${container}]\n`;
    }

    /** The demo manifest with its pods' label `tier` set to `tier`. */
    function demoWithTier(name: string, tier: string): string {
      return file(
        name,
        readFileSync(DEMO, 'utf8').replace(
          /labels: \{ app: echo \}/g,
          `labels: { app: echo, tier: ${tier} }`,
        ),
      );
    }

    /** `kubectl patch` of a pod in my-namespace with a patch of `type` (merge or json). */
    function patchPod(name: string, type: string, patch: string, ...flags: string[]): string {
      return ok(
        api.kubectl([
          'patch',
          'pod',
          '-n',
          'my-namespace',
          name,
          ...flags,
          '--type',
          type,
          '-p',
          patch,
        ]),
      );
    }

    function podnetPod(ns: string, name: string) {
      return JSON.parse(ok(api.podnet(['get', 'pods', name, '-n', ns, '-o', 'json']))) as {
        metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
      };
    }

    test('api-resources lists every kind with its short names and group', () => {
      const out = ok(api.kubectl(['api-resources']));
      for (const line of [
        /^namespaces\s+ns\s+v1\s+false\s+Namespace$/m,
        /^nodes\s+no\s+v1\s+false\s+Node$/m,
        /^pods\s+po\s+v1\s+true\s+Pod$/m,
        /^services\s+svc\s+v1\s+true\s+Service$/m,
        /^clusternetworks\s+cn\s+podnet.io\/v1\s+false\s+ClusterNetwork$/m,
        /^bgppeers\s+podnet.io\/v1\s+false\s+BGPPeer$/m,
      ]) {
        assert.match(out, line);
      }
    });

    test('explain describes fields from the schemas the server validates with', () => {
      const out = ok(api.kubectl(['explain', 'pod.spec.nodeName']));
      assert.match(out, /^KIND:\s+Pod$/m);
      assert.match(out, /^FIELD:\s+nodeName <string>$/m);
      const cn = ok(api.kubectl(['explain', 'clusternetworks.spec']));
      // 1.20 reads the protobuf OpenAPI v2, 1.32 the v3 JSON; each prints the group its own way.
      assert.match(cn, old ? /^VERSION:\s+podnet\.io\/v1$/m : /^GROUP:\s+podnet\.io$/m);
      assert.match(cn, /^\s+backend\s+<string>$/m);
    });

    test('apply creates, applies again unchanged, and an edited label is configured and seen by podnet get', () => {
      const first = ok(api.kubectl(['apply', '-f', DEMO]));
      assert.match(first, /^namespace\/my-namespace created$/m);
      assert.match(first, /^service\/my-svc created$/m);
      assert.match(first, /^pod\/echo-2 created$/m);
      const again = ok(api.kubectl(['apply', '-f', DEMO]));
      assert.equal(again.match(/unchanged$/gm)?.length, 6, again);
      const edited = demoWithTier('demo-edited.yaml', 'web');
      const third = ok(api.kubectl(['apply', '-f', edited]));
      assert.match(third, /^pod\/echo-1 configured$/m);
      assert.match(third, /^service\/my-svc unchanged$/m);
      assert.equal(podnetPod('my-namespace', 'echo-1').metadata.labels?.tier, 'web');
    });

    test('get: nodes, pods -A -o wide, svc -o yaml, label and field selectors', () => {
      ok(
        api.podnet(
          ['apply', '-f', '-'],
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'List',
            items: ['node-a', 'node-b'].map((name) => ({
              apiVersion: 'v1',
              kind: 'Node',
              metadata: { name },
              spec: {},
              status: {
                addresses: [{ type: 'InternalIP', address: '172.31.1.1' }],
                conditions: [{ type: 'Ready', status: 'True' }],
              },
            })),
          }),
        ),
      );
      const nodes = ok(api.kubectl(['get', 'nodes']));
      assert.match(nodes, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/m);
      assert.match(nodes, /^node-a\s+Ready\s+<none>/m);

      const wide = ok(api.kubectl(['get', 'pods', '-A', '-o', 'wide']));
      assert.match(
        wide,
        /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/m,
      );
      assert.match(wide, /^my-namespace\s+echo-2\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+node-2\s/m);

      const yaml = ok(api.kubectl(['get', 'svc', '-n', 'my-namespace', '-o', 'yaml']));
      assert.match(yaml, /^kind: List$/m);
      assert.match(yaml, /^\s+clusterIP: 10\.96\.\d+\.\d+$/m);

      const labelled = ok(
        api.kubectl([
          'get',
          'pods',
          '-n',
          'my-namespace',
          '-l',
          'app=echo,tier in (web)',
          '-o',
          'name',
        ]),
      );
      assert.deepEqual(labelled.trim().split('\n'), ['pod/echo-1', 'pod/echo-2', 'pod/echo-3']);
      const onNode = ok(
        api.kubectl([
          'get',
          'pods',
          '-A',
          '--field-selector',
          'spec.nodeName=node-2',
          '-o',
          'name',
        ]),
      );
      assert.deepEqual(onNode.trim().split('\n'), ['pod/echo-2']);
      const refused = api.kubectl(['get', 'pods', '-A', '--field-selector', 'spec.image=x']);
      assert.equal(refused.code, 1);
      assert.match(refused.err, /field label not supported: spec.image/);
    });

    test('label, annotate, patch --type merge and --type json change the stored object', () => {
      ok(api.kubectl(['label', 'pod', '-n', 'my-namespace', 'echo-1', 'color=blue']));
      ok(api.kubectl(['annotate', 'pod', '-n', 'my-namespace', 'echo-1', 'note=hello']));
      let seen = podnetPod('my-namespace', 'echo-1');
      assert.equal(seen.metadata.labels?.color, 'blue');
      assert.equal(seen.metadata.annotations?.note, 'hello');
      patchPod('echo-1', 'merge', '{"metadata":{"labels":{"color":"red"}}}');
      assert.equal(podnetPod('my-namespace', 'echo-1').metadata.labels?.color, 'red');
      patchPod('echo-1', 'json', '[{"op":"remove","path":"/metadata/labels/color"}]');
      ok(api.kubectl(['annotate', 'pod', '-n', 'my-namespace', 'echo-1', 'note-']));
      seen = podnetPod('my-namespace', 'echo-1');
      assert.equal(seen.metadata.labels?.color, undefined);
      assert.equal(seen.metadata.annotations?.note, undefined);
    });

    test('get pods -w prints a pod that podnet apply creates', async () => {
      const watcher = spawn(
        api.kubectlBin,
        ['--cache-dir', join(api.dir, 'kube-cache'), 'get', 'pods', '-n', 'my-namespace', '-w'],
        {
          env: { ...process.env, KUBECONFIG: api.kubeconfig, HOME: api.dir },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      watcher.stdout.on('data', (c: Buffer) => (out += c.toString()));
      try {
        await waitFor('the initial list', () => /^echo-1\s/m.test(out), 15_000, 50);
        ok(api.podnet(['apply', '-f', '-'], podYaml('watched', '{name: c}')));
        await waitFor('the new pod', () => /^watched\s+0\/1\s+Pending/m.test(out), 15_000, 50);
      } finally {
        watcher.kill('SIGTERM');
      }
    });

    test('refusals as kubectl prints them: invalid, strict fields, conflict, not found', () => {
      const bad = file('bad.yaml', podYaml('bad', '{name: Bad_Name}'));
      const invalid = api.kubectl(['apply', '-f', bad]);
      assert.equal(invalid.code, 1);
      assert.match(
        invalid.err,
        /The Pod "bad" is invalid: (\n\* )?spec\.containers\[0\]\.name: must be a DNS label/,
      );

      const typo = file(
        'typo.yaml',
        podYaml('typo', '{name: c, imagee: busybox, imagePullPolicy: Always}'),
      );
      const strict = api.kubectl(['apply', '-f', typo]);
      assert.equal(strict.code, 1);
      // 1.32 leaves the check to the server (fieldValidation=Strict); 1.20 checks the manifest
      // against the OpenAPI v2 schema itself before sending anything.
      assert.match(
        strict.err,
        old
          ? /error validating data: ValidationError\(Pod\.spec\.containers\[0\]\): unknown field "imagee"/
          : /Error from server \(BadRequest\).*strict decoding error: unknown field "spec\.containers\[0\]\.imagee"/,
      );
      assert.equal(
        api.podnet(['get', 'pods', 'typo', '-n', 'my-namespace']).code,
        1,
        'nothing written',
      );
      assert.match(ok(api.kubectl(['apply', '--validate=false', '-f', typo])), /pod\/typo created/);

      const stale = file(
        'stale.yaml',
        ok(api.kubectl(['get', 'pod', '-n', 'my-namespace', 'echo-3', '-o', 'yaml'])),
      );
      ok(api.kubectl(['label', 'pod', '-n', 'my-namespace', 'echo-3', 'moved=yes']));
      const conflict = api.kubectl(['replace', '-f', stale]);
      assert.equal(conflict.code, 1);
      assert.match(
        conflict.err,
        /Error from server \(Conflict\).*Operation cannot be fulfilled on pods "echo-3": the object has been modified/,
      );

      const missing = api.kubectl(['get', 'pod', '-n', 'my-namespace', 'nope']);
      assert.equal(missing.code, 1);
      assert.match(missing.err, /Error from server \(NotFound\): pods "nope" not found/);
    });

    test('server-side apply is refused with 415, not answered wrongly', () => {
      const r = api.kubectl(['apply', '--server-side', '-f', DEMO]);
      assert.equal(r.code, 1);
      assert.match(r.err, /UnsupportedMediaType|415|server-side apply is not supported/);
    });

    test('the status subresource writes only the status; paging with limit and continue', async () => {
      const statusPatch =
        '{"status":{"phase":"Running","podIP":"10.244.2.7"},"metadata":{"labels":{"ignored":"yes"}}}';
      if (old) {
        // kubectl 1.20 has no --subresource: the same request, sent by hand.
        const r = await api.fetch('/api/v1/namespaces/my-namespace/pods/echo-2/status', {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/merge-patch+json' },
          body: statusPatch,
        });
        assert.equal(r.status, 200, r.body);
      } else {
        patchPod('echo-2', 'merge', statusPatch, '--subresource', 'status');
      }
      const wide = ok(
        api.kubectl(['get', 'pod', '-n', 'my-namespace', 'echo-2', '-o', 'wide', '--show-labels']),
      );
      assert.match(wide, /^echo-2\s+1\/1\s+Running\s+0\s+\S+\s+10\.244\.2\.7\s+node-2\s/m);
      assert.doesNotMatch(wide, /ignored=yes/);

      type Page = { metadata: { continue?: string }; items: { metadata: { name: string } }[] };
      const names: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const q = `limit=2${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
        const page = JSON.parse(
          (await api.fetch(`/api/v1/namespaces/my-namespace/pods?${q}`)).body,
        ) as Page;
        names.push(...page.items.map((p) => p.metadata.name));
        token = page.metadata.continue;
        pages++;
      } while (token);
      assert.ok(pages >= 3, `pages: ${pages}`);
      const all = JSON.parse(
        (await api.fetch('/api/v1/namespaces/my-namespace/pods')).body,
      ) as Page;
      assert.deepEqual(
        names,
        all.items.map((p) => p.metadata.name),
      );
    });

    test('a user outside system:masters is refused with 403 naming the verb, resource and user', async () => {
      const pki = join(api.dir, 'pki');
      const sh = spawnSync(
        'sh',
        [
          '-c',
          `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout jane.key -out jane.csr -subj /O=devs/CN=jane 2>/dev/null &&
       openssl x509 -req -in jane.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out jane.crt 2>/dev/null`,
        ],
        { cwd: pki },
      );
      assert.equal(sh.status, 0);
      const r = await api.fetch('/api/v1/pods', {
        cert: readFileSync(join(pki, 'jane.crt')),
        key: readFileSync(join(pki, 'jane.key')),
      });
      assert.equal(r.status, 403);
      assert.equal(
        (JSON.parse(r.body) as { message: string }).message,
        'pods is forbidden: User "jane" cannot list resource "pods" in API group "" at the cluster scope',
      );
    });

    test('no credentials or a wrong token: 401 as a Status', async () => {
      const anonymous = await api.fetch('/api/v1/pods', { anonymous: true });
      assert.equal(anonymous.status, 401);
      assert.deepEqual(JSON.parse(anonymous.body), {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Unauthorized',
        reason: 'Unauthorized',
        code: 401,
      });
      const token = await api.fetch('/api/v1/pods', {
        anonymous: true,
        headers: { Authorization: 'Bearer wrong' },
      });
      assert.equal(token.status, 401);
      const health = await api.fetch('/healthz', { anonymous: true });
      assert.equal(health.status, 200);
    });

    test('kubectl diff shows a change and makes none', () => {
      const changed = demoWithTier('demo-diff.yaml', 'db');
      const diff = api.kubectl(['diff', '-f', changed]);
      assert.equal(diff.code, 1, diff.err);
      assert.match(diff.out, /^-\s+tier: web$/m);
      assert.match(diff.out, /^\+\s+tier: db$/m);
      assert.equal(podnetPod('my-namespace', 'echo-1').metadata.labels?.tier, 'web');
    });

    test('a watch from a compacted revision gets 410 Expired; the client re-lists and watches on', async () => {
      await checkRelistAfterCompaction(api, '/api/v1/namespaces/my-namespace/pods', '1', 'echo-2');
    });

    test('deletecollection: pods on a live node turn Terminating; with grace 0 they are gone', async () => {
      // No nodeName: admission places them on node-a or node-b, which exist.
      for (const name of ['extra-1', 'extra-2'])
        ok(
          api.kubectl([
            'run',
            name,
            '-n',
            'my-namespace',
            '--image',
            'x',
            '--labels',
            'batch=gone',
          ]),
        );
      const path = '/api/v1/namespaces/my-namespace/pods?labelSelector=batch%3Dgone';
      type Items = { items: { metadata: { name: string; deletionTimestamp?: string } }[] };
      const graceful = await api.fetch(path, { method: 'DELETE' });
      assert.equal(graceful.status, 200);
      const marked = (JSON.parse(graceful.body) as Items).items;
      assert.deepEqual(
        marked.map((p) => p.metadata.name),
        ['extra-1', 'extra-2'],
      );
      assert.ok(marked.every((p) => p.metadata.deletionTimestamp));
      assert.match(
        ok(api.kubectl(['get', 'pods', '-n', 'my-namespace', 'extra-1'])),
        /extra-1\s+0\/1\s+Terminating/,
      );
      const forced = await api.fetch(`${path}&gracePeriodSeconds=0`, { method: 'DELETE' });
      assert.equal(forced.status, 200);
      assert.equal(
        ok(api.kubectl(['get', 'pods', '-n', 'my-namespace', '-l', 'batch', '-o', 'name'])).trim(),
        '',
      );
    });

    test('delete -f removes the objects and returns once they are gone', () => {
      const pods = file(
        'pods.yaml',
        readFileSync(DEMO, 'utf8')
          .split('---')
          .filter((d) => /kind: (Pod|Service)/.test(d))
          .join('---'),
      );
      const out = ok(api.kubectl(['delete', '-f', pods]));
      assert.match(out, /^pod "echo-1" deleted$/m);
      assert.match(out, /^service "my-svc" deleted$/m);
      const left = ok(api.podnet(['get', 'pods', '-n', 'my-namespace', '-o', 'json']));
      assert.deepEqual(
        (JSON.parse(left) as { items: { metadata: { name: string } }[] }).items
          .map((p) => p.metadata.name)
          .sort(),
        ['typo', 'watched'],
      );
    });
  });
