// Lint rules: typescript-eslint's recommended set; prettier owns formatting; and the rooms of
// docs/architecture.md, enforced: a folder under src/ may import only the rooms it lists.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Each room of src/ and the rooms it may import. `util` (errors, logging) is open to all. */
export const ROOMS = {
  util: [],
  net: ['util'],
  api: ['net', 'util'],
  store: ['api', 'util'],
  ipam: ['api', 'store', 'net', 'util'],
  registry: ['api', 'store', 'ipam', 'net', 'util'],
  apiserver: ['registry', 'store', 'api', 'process', 'net', 'util'],
  kernel: ['net', 'process', 'util'],
  process: ['net', 'util'],
  cni: ['api', 'ipam', 'kernel', 'net', 'util'],
  routing: ['api', 'ipam', 'kernel', 'net', 'util'],
  proxy: ['api', 'kernel', 'net', 'util'],
  dns: ['api', 'store', 'net', 'util'],
  bgp: ['api', 'store', 'ipam', 'kernel', 'net', 'util'],
  diagnose: ['api', 'kernel', 'routing', 'proxy', 'policy', 'bgp', 'net', 'util'],
  policy: ['api', 'net', 'util'],
  cloud: ['api', 'net', 'util'],
  kube: ['api', 'store', 'util'],
  flows: ['api', 'net', 'util'],
  rollout: ['api', 'util'],
  ui: ['api', 'store', 'routing', 'bgp', 'flows', 'process', 'net', 'util'],
  agent: [
    'api',
    'store',
    'ipam',
    'registry',
    'kernel',
    'cni',
    'routing',
    'proxy',
    'bgp',
    'policy',
    'cloud',
    'kube',
    'flows',
    'net',
    'util',
  ],
  lab: [
    'api',
    'store',
    'ipam',
    'registry',
    'kernel',
    'process',
    'cni',
    'routing',
    'proxy',
    'dns',
    'bgp',
    'policy',
    'agent',
    'apiserver',
    'cloud',
    'kube',
    'flows',
    'net',
    'util',
  ],
  cli: ['*'],
};

/** Rooms that may start programs: the kernel's tools, and the supervisor of long-running daemons. */
const RUNS_PROGRAMS = ['kernel', 'process'];

function roomRules(room, allowed) {
  const others = Object.keys(ROOMS).filter((r) => r !== room && !allowed.includes(r));
  const patterns = others.map((r) => ({
    group: [`**/${r}/*`, `**/${r}/**`],
    message: `src/${room}/ may import only ${allowed.join(', ') || 'nothing of ours'} (docs/architecture.md)`,
  }));
  if (!RUNS_PROGRAMS.includes(room)) {
    patterns.push({
      group: ['node:child_process', 'child_process'],
      message: `only src/kernel/ and src/process/ start programs (docs/architecture.md)`,
    });
  }
  return {
    files: [`src/${room}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  ...Object.entries(ROOMS)
    .filter(([, allowed]) => !allowed.includes('*'))
    .map(([room, allowed]) => roomRules(room, allowed)),
);
