// What each proxy view must receive in a round, computed in this process with
// mediamesh's own pipeline (the stages `mediamesh serve` runs on a reload):
// YAML text → validate → buildModel → translate for the view → Snapshot.
//
// The bench uses it twice: to know what every simulated proxy must hold once
// a round's change has reached it (whichever server it talks to), and to hand
// the go-control-plane peer the very resources mediamesh would serve.
import path from 'node:path';
import { formatProblem, validateDocuments } from '../../xds-server/src/api/validate.js';
import type { SourcedDocument } from '../../xds-server/src/api/types.js';
import { buildModel } from '../../xds-server/src/model/build-model.js';
import { parseYamlText } from '../../xds-server/src/sources/read-yaml.js';
import { translateModel } from '../../xds-server/src/translate/translate.js';
import { Snapshot, TypeUrl } from '../../xds-server/src/xds/snapshot.js';
import type { RoundChange } from './bench-mesh.js';
import type { Expectation } from './expectation.js';
import { expectationResourceName, resourceMatches } from './expectation.js';
import { proxyViewOf } from './views.js';

export interface RoundViews {
  /** Each view key's snapshot, as mediamesh would serve it. */
  byView: Map<string, Snapshot>;
  /** Documents mediamesh's validation rejects (formatted), e.g. consumer routes it does not know yet. */
  problems: string[];
  /** How many different snapshots the views got: 1 means every view is served the same. */
  distinctSnapshots: number;
}

/** Translates the round's files (name → text, as written under `dir`) for every view. */
export function translateViews(dir: string, files: ReadonlyMap<string, string>, keys: readonly string[]): RoundViews {
  const documents: SourcedDocument[] = [];
  const problems: string[] = [];
  // The order FileSource reads them in: sorted full paths.
  const paths = [...files.keys()].map((name) => path.join(dir, name)).sort();
  for (const file of paths) {
    const parsed = parseYamlText(files.get(path.basename(file))!, file);
    documents.push(...parsed.documents);
    problems.push(...parsed.problems.map(formatProblem));
  }
  const validated = validateDocuments(documents);
  problems.push(...validated.problems.map(formatProblem));
  const model = buildModel(validated.config);
  const byView = new Map<string, Snapshot>();
  for (const key of keys) {
    const { resources, errors } = translateModel(model, {}, proxyViewOf(key));
    if (errors.length > 0) throw new Error(`mediamesh's translator failed for view ${key}: ${errors.map((e) => `${e.resource}: ${e.reason}`).join('; ')}`);
    byView.set(key, Snapshot.fromResources(resources));
  }
  return { byView, problems, distinctSnapshots: new Set([...byView.values()].map((s) => s.version)).size };
}

/**
 * What a proxy of each view must hold for the round: the resource of that
 * view's snapshot carrying the round's new value. A view the change does not
 * reach has no expectation to wait for, which is a broken bench: it throws.
 */
export function expectationsFor(round: RoundViews, change: RoundChange, roundNumber: number): Record<string, Expectation> {
  const out: Record<string, Expectation> = {};
  for (const [key, snapshot] of round.byView) {
    const found = change.kind === 'endpoint-port'
      ? findResource(snapshot, key, TypeUrl.ClusterLoadAssignment, (name) => ({ kind: 'endpoint-port', clusterName: name, port: change.port }))
      : findResource(snapshot, key, TypeUrl.Listener, (name) => ({ kind: 'listener-idle-timeout', listenerName: name, seconds: change.seconds }));
    if (!found) throw new Error(`round ${roundNumber}'s change (${JSON.stringify(change)}) reaches no resource of view ${key} in mediamesh's translation`);
    out[key] = found;
  }
  return out;
}

/**
 * A resource of `typeUrl` that matches the expectation built for its name:
 * preferably one of the view's own namespace (names are `<kind>~<ns>~...`, so
 * a consumer route's), else the first by name.
 */
function findResource(snapshot: Snapshot, key: string, typeUrl: TypeUrl, expectation: (name: string) => Expectation): Expectation | undefined {
  const matching: Expectation[] = [];
  for (const r of snapshot.forType(typeUrl).list) {
    const e = expectation(r.name);
    if (resourceMatches(e, r.packed.value)) matching.push(e);
  }
  const own = `~${key}~`;
  return matching.find((e) => expectationResourceName(e).includes(own)) ?? matching[0];
}
