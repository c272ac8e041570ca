// One copy of the values that thousands of cached objects repeat: a namespace, a node name, the
// labels of one deployment's pods, the container list of one pod template, a Ready condition.
// An agent caches every pod and endpoint of the cluster, and JSON.parse gives each its own
// copy of each (V8 shares only strings shorter than 10 characters), so at 150,000 pods the
// copies cost more than the pods' own data. Shared values are frozen: a reader that changed
// one would change it for every object that holds it, and must fail instead.
//
// The tables forget: each keeps two generations of a bounded size, and a value not asked for
// during a whole generation is dropped from them (objects holding it keep it). So a cluster
// whose labels churn (a new pod-template-hash per rollout) never grows them past the bound.

/** Entries per generation: more than the distinct values a 5,000-node cluster repeats. */
const GENERATION = 1 << 16;

export class Interner {
  private readonly strings: Generations<string>;
  private readonly values: Generations<unknown>;

  constructor(generation = GENERATION) {
    this.strings = new Generations(generation);
    this.values = new Generations(generation);
  }

  /** The one copy of `text`. */
  string<T extends string | undefined>(text: T): T {
    return text === undefined ? text : (this.strings.get(text, () => text) as T);
  }

  /** The one frozen copy of a JSON value (an object or array; equal by its JSON text). */
  value<T>(value: T): T {
    if (value === undefined || value === null || typeof value !== 'object') return value;
    return this.values.get(JSON.stringify(value), () => deepFreeze(value)) as T;
  }

  /** How many values the tables hold now (both generations). */
  size(): number {
    return this.strings.size() + this.values.size();
  }
}

class Generations<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get(key: string, make: () => V): V {
    const found = this.current.get(key);
    if (found !== undefined) return found;
    const value = this.previous.get(key) ?? make();
    if (this.current.size >= this.limit) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, value);
    return value;
  }

  size(): number {
    return this.current.size + this.previous.size;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
