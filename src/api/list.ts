// The one shape of a list on the command line, as kubectl prints it: `-o json|yaml` of any
// `get` without a NAME is a v1 List, so a script reads `.items` whatever the noun.

export interface ListDocument<T> {
  apiVersion: 'v1';
  kind: 'List';
  items: T[];
}

export function listOf<T>(items: T[]): ListDocument<T> {
  return { apiVersion: 'v1', kind: 'List', items };
}
