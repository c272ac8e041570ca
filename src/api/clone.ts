// A deep copy of a JSON value (what objects are made of, from the store or a request body).
// structuredClone does the same through the serializer that can carry any value, which costs
// several times more; the write path copies each object a few times per request.

/** A copy of `value` that shares nothing mutable with it; `value` must be plain JSON data. */
export function cloneJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneJson(value[i] as unknown);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const copy = cloneJson((value as Record<string, unknown>)[key]);
    // A body may carry a member named `__proto__` (JSON.parse makes it an own member); assigning
    // it would set the copy's prototype instead.
    if (key === '__proto__') {
      Object.defineProperty(out, key, {
        value: copy,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else out[key] = copy;
  }
  return out as T;
}
