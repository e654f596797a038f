// What a subscription selects from one type of a snapshot, made once and
// shared by every stream asking the same thing. Envoy names what it wants of
// EDS and RDS, and every proxy of a view names the same resources: without
// sharing, a push to a thousand proxies would look the same names up, and
// build the same list and map, a thousand times.
import type { WireResource } from './resources.js';
import type { TypeSnapshot } from './snapshot.js';

export interface Selection {
  /** Names the selection within its type snapshot: '*' for the whole type, else the names asked. */
  readonly key: string;
  readonly list: readonly WireResource[];
  readonly byName: ReadonlyMap<string, WireResource>;
}

/** Distinct name lists kept per type snapshot: clients choose the names, so this must not grow with them. */
const MAX_SELECTIONS_PER_TYPE_SNAPSHOT = 64;
const WHOLE_KEY = '*';

const wholes = new WeakMap<TypeSnapshot, Selection>();
const named = new WeakMap<TypeSnapshot, Map<string, Selection>>();

/** The key of a list of names; computed when a proxy's request changes, not per push. */
export function namesKey(names: readonly string[]): string {
  // Names come from clients and may hold any character: the key must tell every two lists apart (and from '*').
  return JSON.stringify(names);
}

export function wholeType(typeSnapshot: TypeSnapshot): Selection {
  let found = wholes.get(typeSnapshot);
  if (!found) wholes.set(typeSnapshot, (found = { key: WHOLE_KEY, list: typeSnapshot.list, byName: typeSnapshot.resources }));
  return found;
}

/** The resources of `names` the type snapshot has, in the order asked; `key` is namesKey of the same names in the same order. */
export function selectNamed(typeSnapshot: TypeSnapshot, names: Iterable<string>, key: string): Selection {
  let perSnapshot = named.get(typeSnapshot);
  if (!perSnapshot) named.set(typeSnapshot, (perSnapshot = new Map()));
  let found = perSnapshot.get(key);
  if (!found) {
    const list: WireResource[] = [];
    for (const name of names) {
      const resource = typeSnapshot.resources.get(name);
      if (resource) list.push(resource);
    }
    found = { key, list, byName: new Map(list.map((r) => [r.name, r])) };
    if (perSnapshot.size < MAX_SELECTIONS_PER_TYPE_SNAPSHOT) perSnapshot.set(key, found);
  }
  return found;
}

/** A selection plus resources from elsewhere (clusters held back for a proxy): made per stream, not shared. */
export function withAdded(selection: Selection, added: readonly WireResource[]): Selection {
  const list = [...selection.list, ...added];
  return { key: `+${namesKey(list.map((r) => r.name))}`, list, byName: new Map(list.map((r) => [r.name, r])) };
}
