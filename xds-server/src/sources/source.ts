// The shape every config source has: load everything, tell when it changed.
import type { SourcedDocument } from '../api/types.js';
import type { ConfigProblem } from '../api/validate.js';

export interface SourceUpdate {
  documents: SourcedDocument[];
  /** Problems found before validation (unreadable files, YAML syntax). */
  problems: ConfigProblem[];
}

export interface ConfigSource {
  describe(): string;
  load(): SourceUpdate | Promise<SourceUpdate>;
  watch(onChange: () => void): void;
  close(): void;
}
