// The JSON Patch (RFC 6902) a mutating webhook answers with. The injector
// changes a few whole fields of a pod; each changed field becomes one "add"
// of its new value, which creates the member or replaces it. Mutating
// webhooks run one after another, each on the previous one's output, so a
// whole-field value is exactly what the next one sees.

export interface JsonPatchOperation {
  op: 'add';
  path: string;
  value: unknown;
}

/** The objects that hold what the injector changes (a pod always has both, but a patch must not assume it). */
const PARENTS = ['metadata', 'spec'] as const;
/** The fields of a pod the injector may change. */
export const PATCHED_FIELDS: readonly (readonly [string, string])[] = [
  ['metadata', 'annotations'],
  ['spec', 'initContainers'],
  ['spec', 'containers'],
  ['spec', 'volumes'],
];

export function pointer(path: readonly string[]): string {
  return path.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

function get(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** Stable comparison of JSON values (key order does not matter). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * One "add" per changed field. A missing parent comes whole, with its new
 * fields in it.
 */
export function topLevelPatch(before: unknown, after: unknown): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  const newParents = new Set<string>();
  for (const parent of PARENTS) {
    const now = get(after, [parent]);
    if (get(before, [parent]) !== undefined || now === undefined) continue;
    newParents.add(parent);
    ops.push({ op: 'add', path: pointer([parent]), value: now });
  }
  for (const path of PATCHED_FIELDS) {
    if (newParents.has(path[0])) continue;
    const now = get(after, path);
    if (now !== undefined && !sameJson(get(before, path), now)) ops.push({ op: 'add', path: pointer(path), value: now });
  }
  return ops;
}

/** Applies "add" operations (the only kind the injector makes), for tests and the CLI. */
export function applyPatch<T>(document: T, ops: readonly JsonPatchOperation[]): T {
  const out = structuredClone(document) as unknown;
  for (const op of ops) {
    const parts = op.path.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = parts.pop()!;
    let parent = out;
    for (const p of parts) {
      if (parent === null || typeof parent !== 'object' || !Object.hasOwn(parent, p)) throw new Error(`patch path ${op.path}: ${p} does not exist`);
      parent = (parent as Record<string, unknown>)[p];
    }
    if (parent === null || typeof parent !== 'object') throw new Error(`patch path ${op.path}: parent is not an object`);
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`patch path ${op.path}: bad index`);
      parent.splice(index, 0, structuredClone(op.value));
    } else {
      (parent as Record<string, unknown>)[last] = structuredClone(op.value);
    }
  }
  return out as T;
}
