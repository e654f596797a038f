// A config source held in memory: whatever a caller sets is what it serves.
// For embedding and tests, and the shape the Kubernetes source will have.
import type { SourcedDocument } from '../api/types.js';
import type { ConfigSource, SourceChange, SourceUpdate } from './source.js';

export class MemorySource implements ConfigSource {
  private documents: SourcedDocument[] = [];
  private onChange?: (change: SourceChange) => void;

  constructor(private readonly name: string) {}

  describe(): string {
    return this.name;
  }

  /** Replaces every object this source serves; documents are taken whole. */
  set(documents: readonly unknown[]): void {
    this.documents = documents.map((document, index) => ({ origin: { source: this.name, index }, document }));
    this.onChange?.({ wholeFiles: true, completed: true });
  }

  load(): SourceUpdate {
    return { documents: [...this.documents], problems: [] };
  }

  watch(onChange: (change: SourceChange) => void): void {
    this.onChange = onChange;
  }

  close(): void {
    this.onChange = undefined;
  }
}
