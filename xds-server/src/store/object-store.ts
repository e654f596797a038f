// The input stage: every config source publishes the whole set of objects it
// owns under its name; the store keeps the latest set per source and merges
// them into one document per object key. The same object from two sources
// is an error naming both; the copy that served before keeps serving (else
// the one from the source first by name).
import { objectIdentityOf } from '../api/check-shape.js';
import type { SourcedDocument } from '../api/types.js';
import type { ConfigProblem } from '../api/validate.js';

export interface SourceContent {
  readonly documents: readonly SourcedDocument[];
  /** Problems the source found before validation (unreadable files, YAML syntax). */
  readonly problems: readonly ConfigProblem[];
}

export interface MergedInputs {
  documents: SourcedDocument[];
  problems: ConfigProblem[];
  /** Object key → the source whose copy this merge took; hand it to `commit` once the merge is applied. */
  owners: ReadonlyMap<string, string>;
}

export class ObjectStore {
  private readonly bySource = new Map<string, SourceContent>();
  /** Object key → the source whose copy was served by the last merge. */
  private owners = new Map<string, string>();
  private revision = 0;

  /** Replaces everything `source` published before. */
  publish(source: string, content: SourceContent): void {
    this.bySource.set(source, content);
    this.revision++;
  }

  withdraw(source: string): void {
    if (this.bySource.delete(source)) this.revision++;
  }

  /** Changes whenever any source publishes. */
  version(): number {
    return this.revision;
  }

  /**
   * One copy of each object (documents without a readable identity pass
   * through for admission to report). Changes nothing: a merge that is not
   * applied (an early apply that must wait) leaves the tie-break alone.
   */
  merge(): MergedInputs {
    const problems: ConfigProblem[] = [];
    const holders = new Map<string, { source: string; docs: SourcedDocument[] }[]>();
    const passThrough: SourcedDocument[] = [];
    for (const [source, content] of [...this.bySource].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      problems.push(...content.problems);
      for (const doc of content.documents) {
        const identity = objectIdentityOf(doc.document);
        if (!identity) {
          passThrough.push(doc);
          continue;
        }
        const list = holders.get(identity.key) ?? [];
        const mine = list.find((h) => h.source === source);
        if (mine) mine.docs.push(doc);
        else list.push({ source, docs: [doc] });
        holders.set(identity.key, list);
      }
    }
    const documents = [...passThrough];
    const owners = new Map<string, string>();
    for (const [key, list] of holders) {
      const previous = this.owners.get(key);
      const winner = list.find((h) => h.source === previous) ?? list[0]!;
      owners.set(key, winner.source);
      // Duplicates inside one source are admission's to report, with file and position.
      documents.push(...winner.docs);
      for (const other of list) {
        if (other === winner) continue;
        for (const doc of other.docs) {
          const identity = objectIdentityOf(doc.document)!;
          problems.push({
            source: doc.origin.source,
            index: doc.origin.index,
            kind: identity.kind,
            name: identity.name,
            namespace: identity.namespace,
            field: 'metadata.name',
            reason: `${key} is published by two sources, ${winner.source} and ${other.source}; serving the copy from ${winner.source}`,
            code: 'Duplicate',
          });
        }
      }
    }
    return { documents, problems, owners };
  }

  /** Records which source's copy of each object served, for the next merge's tie-break. */
  commit(merged: MergedInputs): void {
    this.owners = new Map(merged.owners);
  }
}
