// GET of a daemon's HTTP endpoint on a loopback address, from the namespace the daemon runs in:
// the lab's agents listen on 127.0.0.1 of their host's namespace, which a process outside it
// cannot reach, so there the request is made by busybox inside the namespace.
import { run } from '../process/run.js';

export async function httpGetText(url: string, netns?: string): Promise<string> {
  if (!netns) {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${res.statusText}`);
    return res.text();
  }
  return (await run(['busybox', 'wget', '-q', '-T', '5', '-O', '-', url], { netns })).stdout;
}
