// One of the processes of the concurrency test: `node cas-worker.js STORE_URL KEY N` adds 1 to
// the number at KEY, N times, each with compare-and-swap (read, then write only if unchanged).
import { openStore } from '../../src/store/open.js';

const [url, key, count] = process.argv.slice(2);
const store = await openStore(url!);
let conflicts = 0;
try {
  for (let done = 0; done < Number(count);) {
    const kv = await store.get(key!);
    const next = Number(kv?.value ?? '0') + 1;
    if ((await store.update(key!, String(next), kv?.modRevision ?? 0)) !== undefined) done++;
    else {
      // Back off a little, at random, as CAS clients do: fewer wasted round trips.
      conflicts++;
      await new Promise((r) => setTimeout(r, Math.random() * 4));
    }
  }
} finally {
  await store.close();
}
process.stdout.write(`${conflicts}\n`);
