// A writer through podnet's store client, run inside a lab host's namespace as an agent would:
//   node store-writer.js STORE_URL PREFIX PER_SECOND
// Puts at a fixed rate (open loop: a stalled put does not hold back the next), over 100 keys
// under PREFIX, and prints one JSON line per put once it ends (see StoreWrite).
import { openStore } from '../../src/store/open.js';
import { errorMessage } from '../../src/util/errors.js';
import type { StoreWrite } from './store-write-figures.js';

const [url, prefix, rateText] = process.argv.slice(2);
if (!url || !prefix || !Number(rateText)) {
  process.stderr.write('usage: store-writer STORE_URL PREFIX PER_SECOND\n');
  process.exit(2);
}
const store = await openStore(url);
let n = 0;
setInterval(
  () => {
    const start = Date.now();
    const seq = n++;
    const done = (w: Pick<StoreWrite, 'ok' | 'error'>): void => {
      process.stdout.write(`${JSON.stringify({ seq, start, ms: Date.now() - start, ...w })}\n`);
    };
    store.put(`${prefix}${seq % 100}`, String(start)).then(
      () => done({ ok: true }),
      (err: unknown) => done({ ok: false, error: errorMessage(err) }),
    );
  },
  1000 / Number(rateText),
);
