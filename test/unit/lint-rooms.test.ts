// The rooms of docs/architecture.md are enforced by the lint config: these fixtures are linted
// as if they were files in src/, and a forbidden import must fail while an allowed one passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

const repo = new URL('../../../', import.meta.url).pathname;

async function restrictedImports(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: repo });
  const [result] = await eslint.lintText(code, { filePath: `${repo}${filePath}` });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('lint rooms: src/api/ importing the store is refused, with the rule in the message', async () => {
  const messages = await restrictedImports(
    'src/api/fixture.ts',
    "import { openStore } from '../store/open.js';\nexport const use = openStore;\n",
  );
  assert.equal(messages.length, 1);
  assert.match(messages[0]!, /src\/api\/ may import only net, util/);
});

test('lint rooms: a nested folder is held to its room too', async () => {
  const messages = await restrictedImports(
    'src/routing/backends/fixture.ts',
    "import { openStore } from '../../store/open.js';\nexport const use = openStore;\n",
  );
  assert.equal(messages.length, 1);
});

test('lint rooms: only src/kernel/ and src/process/ start programs', async () => {
  const code = "import { spawn } from 'node:child_process';\nexport const use = spawn;\n";
  assert.equal((await restrictedImports('src/dns/fixture.ts', code)).length, 1);
  assert.deepEqual(await restrictedImports('src/kernel/fixture.ts', code), []);
  assert.deepEqual(await restrictedImports('src/process/fixture.ts', code), []);
});

test('lint rooms: allowed imports pass', async () => {
  assert.deepEqual(
    await restrictedImports(
      'src/routing/fixture.ts',
      "import { run } from '../kernel/routing-apply.js';\nexport const use = run;\n",
    ),
    [],
  );
  assert.deepEqual(
    await restrictedImports(
      'src/cli/fixture.ts',
      "import { runAgent } from '../agent/agent.js';\nexport const use = runAgent;\n",
    ),
    [],
  );
});
