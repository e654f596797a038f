// The shape every config source has: load everything, tell when it changed.
import type { SourcedDocument } from '../api/types.js';
import type { ConfigProblem } from '../api/validate.js';

export interface SourceUpdate {
  documents: SourcedDocument[];
  /** Problems found before validation (unreadable files, YAML syntax). */
  problems: ConfigProblem[];
}

export interface SourceChange {
  /**
   * The change replaced whole files (renamed into place), so a reader never
   * sees one half-written. In-place writes, deletions and anything the source
   * cannot tell are false.
   */
  wholeFiles: boolean;
  /**
   * This change completed something: a config file renamed into place, or a
   * source's whole new object set. Nothing more of it is coming, so an early
   * apply need not wait out the settle time.
   */
  completed?: boolean;
}

export interface ConfigSource {
  describe(): string;
  /**
   * Resolves once the source knows its objects (a cluster source has listed
   * every kind): the control plane loads nothing before, so a restart never
   * serves an empty config in place of a full one.
   */
  start?(): Promise<void>;
  load(): SourceUpdate | Promise<SourceUpdate>;
  watch(onChange: (change: SourceChange) => void): void;
  close(): void;
}
