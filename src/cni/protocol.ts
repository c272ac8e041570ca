// The wire format between the C shim (src/cni/shim/podnet-cni.c) and the agent's CNI
// socket, kept trivial so the C side stays a few obvious lines:
//   request:  NAME=VALUE\0 ... NAME=VALUE\0 \0 <stdin bytes>   (shim half-closes after)
//   response: <exit code>\n<stdout bytes>                      (agent closes after)
// Environment strings cannot contain NUL, so NUL separates them safely.

export interface ShimRequest {
  env: Record<string, string>;
  stdin: string;
}

export function decodeRequest(buf: Buffer): ShimRequest {
  const env: Record<string, string> = {};
  let pos = 0;
  for (;;) {
    const end = buf.indexOf(0, pos);
    if (end < 0) throw new Error('request ends inside the environment block');
    if (end === pos) {
      pos++;
      break;
    }
    const entry = buf.toString('utf8', pos, end);
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    pos = end + 1;
  }
  return { env, stdin: buf.toString('utf8', pos) };
}

export function encodeResponse(exitCode: number, stdout: string): Buffer {
  return Buffer.from(`${exitCode}\n${stdout}`);
}
