// One of the processes of the concurrency test: `node cas-worker.js STORE_URL KEY N` adds 1 to
// the number at KEY, N times, each with compare-and-swap (write only if unchanged since read;
// a conflict hands back the current value to try again with).
import { openStore } from '../../src/store/open.js';

const [url, key, count] = process.argv.slice(2);
const store = await openStore(url!);
let conflicts = 0;
let streak = 0;
try {
  const first = await store.get(key!);
  let [value, revision] = [Number(first?.value ?? '0'), first?.modRevision ?? 0];
  for (let done = 0; done < Number(count);) {
    const r = await store.compareAndSwap(key!, String(value + 1), revision);
    if (r.ok) {
      done++;
      streak = 0;
      [value, revision] = [value + 1, r.revision];
    } else {
      // Back off at random, longer after each conflict in a row, as CAS clients do: eight
      // writers on one key otherwise spend most round trips on conflicts.
      conflicts++;
      streak++;
      [value, revision] = [Number(r.current?.value ?? '0'), r.current?.modRevision ?? 0];
      await new Promise((res) => setTimeout(res, Math.random() * Math.min(2 ** streak, 64)));
    }
  }
} finally {
  await store.close();
}
process.stdout.write(`${conflicts}\n`);
