// What is wrong with one field of a document: the unit every check returns.

export interface FieldProblem {
  /** Dotted field path, e.g. spec.backendRefs[1].name; empty for the whole document. */
  field: string;
  reason: string;
  /** Gateway API style reason for the route's condition (Invalid when unset). */
  code?: ProblemCode;
}

export type ProblemCode = 'Invalid' | 'NoMatchingParent' | 'Conflicted' | 'ResourceLimit' | 'BackendNotFound' | 'RefNotPermitted' | 'Duplicate';
