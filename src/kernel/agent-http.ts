// Reading an agent's JSON endpoints where it listens: on loopback inside its host's network
// namespace, which a process outside can only reach by running the request in there.
import { run } from '../process/run.js';
import { OperationError } from '../util/errors.js';

export async function getAgentJson<T>(address: string, path: string, netns?: string): Promise<T> {
  const url = `http://${address}${path}`;
  const { stdout } = await run(['curl', '-sSf', '--max-time', '5', url], { netns });
  try {
    return JSON.parse(stdout) as T;
  } catch {
    throw new OperationError(`${url}${netns ? ` in ${netns}` : ''}: the answer is not JSON`);
  }
}
