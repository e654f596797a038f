// `mediamesh inject -f FILE`: the webhook's injection applied offline to a
// multi-document YAML stream, like `istioctl kube-inject`. Pods, and the pod
// templates of Deployments, StatefulSets and DaemonSets (also inside a
// `kind: List`), are injected where they opt in; every other document, and
// every pod that does not opt in, comes out exactly as it went in (the same
// bytes). An injected document keeps its comments: only the fields the
// injector changes are rewritten.
import { Composer, CST, type Document, Parser } from 'yaml';
import { sameJson } from './json-patch.js';
import { injectPod, type InjectOptions, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE, type Pod } from './inject.js';

export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

export interface InjectManifestsOptions {
  inject: InjectOptions;
  /** The namespace of objects that name none (where kubectl would apply them). */
  defaultNamespace: string;
  /** Namespaces to treat as labelled mediamesh.io/inject=enabled, besides Namespace objects in the input that are. */
  enabledNamespaces?: readonly string[];
}

export interface WorkloadOutcome {
  /** "Deployment media/cam" */
  object: string;
  injected: boolean;
  /** Why it was not injected. */
  reason?: string;
}

export type InjectManifestsResult =
  | { ok: true; text: string; workloads: WorkloadOutcome[] }
  | { ok: false; errors: string[] };

type Json = Record<string, unknown>;

interface Piece {
  /** The source text of this document, as written. */
  source: string;
  document?: Document;
}

/** The stream cut into documents, each with its own exact source text. */
function splitDocuments(text: string): Piece[] {
  const groups: { tokens: CST.Token[]; hasDocument: boolean }[] = [];
  for (const token of new Parser().parse(text)) {
    const last = groups.at(-1);
    if (!last || (token.type === 'document' && last.hasDocument)) groups.push({ tokens: [token], hasDocument: token.type === 'document' });
    else {
      last.tokens.push(token);
      if (token.type === 'document') last.hasDocument = true;
    }
  }
  return groups.map((g) => {
    const docs = [...new Composer({ prettyErrors: true }).compose(g.tokens, true)];
    return { source: g.tokens.map((t) => CST.stringify(t)).join(''), document: docs[0] };
  });
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function describe(o: Json, defaultNamespace: string): string {
  const meta = isObject(o.metadata) ? o.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : typeof meta.generateName === 'string' ? `${meta.generateName}*` : '?';
  return `${String(o.kind)} ${typeof meta.namespace === 'string' ? meta.namespace : defaultNamespace}/${name}`;
}

function valueAt(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const key of path) v = isObject(v) && Object.hasOwn(v, key) ? v[key] : undefined;
  return v;
}

/**
 * Writes `after` where `before` was, touching as little of the YAML as it
 * can: new keys of a mapping and new items at the end of a sequence are
 * added, so the comments and layout of what was there survive.
 */
function updateNode(doc: Document, path: (string | number)[], before: unknown, after: unknown): void {
  if (sameJson(before, after)) return;
  if (Array.isArray(before) && Array.isArray(after) && after.length >= before.length && before.every((b, i) => sameJson(b, after[i]))) {
    for (const item of after.slice(before.length)) doc.addIn(path, doc.createNode(item));
    return;
  }
  if (isObject(before) && isObject(after) && Object.keys(before).every((k) => Object.hasOwn(after, k))) {
    for (const [key, value] of Object.entries(after)) updateNode(doc, [...path, key], before[key], value);
    return;
  }
  doc.setIn(path, doc.createNode(after));
}

export function injectManifests(text: string, source: string, o: InjectManifestsOptions): InjectManifestsResult {
  const pieces = splitDocuments(text);
  const errors: string[] = [];
  pieces.forEach((p, i) => {
    for (const e of p.document?.errors ?? []) errors.push(`${source}: document ${i + 1}: ${e.message}`);
  });
  if (errors.length > 0) return { ok: false, errors };
  const values = pieces.map((p) => (p.document?.contents ? (p.document.toJS({ maxAliasCount: 100 }) as unknown) : undefined));

  // Namespaces labelled for injection: given, or declared in the input itself.
  const enabled = new Set(o.enabledNamespaces ?? []);
  const forEachObject = (visit: (obj: Json, path: (string | number)[], piece: number) => void) => {
    values.forEach((v, i) => {
      if (!isObject(v)) return;
      if (v.kind === 'List' && Array.isArray(v.items)) v.items.forEach((item, j) => isObject(item) && visit(item, ['items', j], i));
      else visit(v, [], i);
    });
  };
  forEachObject((obj) => {
    const meta = isObject(obj.metadata) ? obj.metadata : {};
    const labels = isObject(meta.labels) ? meta.labels : {};
    if (obj.kind === 'Namespace' && typeof meta.name === 'string' && labels[NAMESPACE_LABEL] === NAMESPACE_LABEL_VALUE) enabled.add(meta.name);
  });

  const workloads: WorkloadOutcome[] = [];
  const touched = new Set<number>();
  forEachObject((obj, path, piece) => {
    const isPod = obj.kind === 'Pod';
    if (!isPod && !(typeof obj.kind === 'string' && WORKLOAD_KINDS.has(obj.kind))) return;
    const meta = isObject(obj.metadata) ? obj.metadata : {};
    const namespace = typeof meta.namespace === 'string' ? meta.namespace : o.defaultNamespace;
    const name = describe(obj, o.defaultNamespace);
    let pod: Pod;
    let podPath: (string | number)[];
    if (isPod) {
      pod = obj as Pod;
      podPath = path;
    } else {
      const template = isObject(obj.spec) && isObject(obj.spec.template) ? obj.spec.template : undefined;
      if (!template) return errors.push(`${source}: document ${piece + 1} (${name}): no spec.template`);
      pod = template as Pod;
      podPath = [...path, 'spec', 'template'];
    }
    const result = injectPod(pod, enabled.has(namespace) ? { [NAMESPACE_LABEL]: NAMESPACE_LABEL_VALUE } : {}, o.inject);
    if (!result.ok) return errors.push(`${source}: document ${piece + 1} (${name}): ${result.error}`);
    if (result.skipped !== undefined) return workloads.push({ object: name, injected: false, reason: result.skipped });
    const doc = pieces[piece]!.document!;
    for (const op of result.patch) {
      const parts = op.path.split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
      updateNode(doc, [...podPath, ...parts], valueAt(pod, parts), op.value);
    }
    touched.add(piece);
    return workloads.push({ object: name, injected: true });
  });
  if (errors.length > 0) return { ok: false, errors };

  const out = pieces.map((p, i) => {
    if (!touched.has(i)) return p.source;
    const doc = p.document!;
    // A document after another needs its --- marker.
    if (i > 0) doc.directives!.docStart = true;
    const rendered = doc.toString({ lineWidth: 0 });
    return i > 0 && !pieces[i - 1]!.source.endsWith('\n') ? `\n${rendered}` : rendered;
  });
  return { ok: true, text: out.join(''), workloads };
}
