// Building the slim objects an agent caches (slim-pod.ts, slim-node.ts).

/**
 * The fields that are set, copied (an absent field costs nothing, an undefined one a slot; and
 * `delete` would turn the object into a slower, larger dictionary).
 */
export function present<T extends object>(fields: T): T {
  const out: Partial<T> = {};
  for (const key of Object.keys(fields) as (keyof T)[])
    if (fields[key] !== undefined) out[key] = fields[key];
  return out as T;
}
