// Rules on a route that JSON Schema cannot say (they span fields, or look at
// map keys the CRD's structural schema cannot constrain), written twice with
// one message: as CEL for the CRDs' x-kubernetes-validations (schemas.ts puts
// them on the nodes they check, so the API server refuses the route at
// `kubectl apply`), and as TypeScript here (check-shape.ts runs it, so
// `mediamesh validate` and the file source refuse the same route, on the same
// field, with the same words, plus the values involved).
//
// CEL cost stays bounded because every list and map they walk has maxItems or
// maxProperties, and every string they read has a maxLength.
import type { FieldProblem } from './field-problem.js';
import { parseDurationMs } from './duration.js';
import type { BackendRef, ParentRef, RtspRoute, UdpRoute } from './types.js';

/** One x-kubernetes-validations entry. `self` is the schema node it sits on. */
export interface CelRule {
  rule: string;
  message: string;
  /** Where the API server reports it, relative to the node (e.g. ".endPort"). */
  fieldPath?: string;
}

/** A route makes one listener per port it serves; this bounds what one document can ask for. */
export const MAX_LISTENERS_PER_ROUTE = 1000;
/** RTSP path regular expressions are compiled per request path; keep them short. */
export const MAX_PATH_REGEX_LENGTH = 256;
export const PAYLOAD_TYPE_PATTERN = '^([0-9]|[1-9][0-9]|1[01][0-9]|12[0-7])$';

// The last port a parentRef serves, for CEL; an endPort below port counts as
// port alone here, so a backwards range is reported once, by its own rule.
const celEnd = (p: string) => `(has(${p}.endPort) && ${p}.endPort > ${p}.port ? ${p}.endPort : ${p}.port)`;

export const celRules = {
  /** On each parentRef. */
  endPortNotBelowPort: {
    rule: '!has(self.endPort) || self.endPort >= self.port',
    message: 'endPort must not be below port',
    fieldPath: '.endPort',
  },
  /** On parentRefs: listener names carry the route and port, so one route serves a port once. */
  portServedOnce: {
    rule: `self.all(a, self.filter(b, b.port <= ${celEnd('a')} && a.port <= ${celEnd('b')}).size() == 1)`,
    message: 'a route serves each port once (use a second route for a second Service on the same port)',
  },
  /** On parentRefs. */
  boundedPortCount: {
    rule: `self.map(p, ${celEnd('p')} - p.port + 1).sum() <= ${MAX_LISTENERS_PER_ROUTE}`,
    message: `the route would serve more than ${MAX_LISTENERS_PER_ROUTE} ports (one listener each); split it or narrow the range`,
  },
  /** On every backendRefs list (weights are 0..1,000,000 by the schema; unset means 1). */
  someBackendWeighted: {
    rule: 'self.exists(b, !has(b.weight) || b.weight > 0)',
    message: 'backend weights sum to 0: no backend would get traffic',
  },
  /** On UdpRoute's spec. */
  rtpNeedsProtocolRtp: {
    rule: "!has(self.rtp) || (has(self.protocol) && self.protocol == 'RTP')",
    message: 'rtp settings need protocol: RTP',
    fieldPath: '.rtp',
  },
  /** On UdpRoute's spec.rtp.clockRate (the structural schema cannot constrain map keys). */
  clockRateKeys: {
    rule: `self.all(pt, pt.matches('${PAYLOAD_TYPE_PATTERN}'))`,
    message: 'clockRate keys are RTP payload types, "0" to "127"',
  },
  /** On each RtspRoute path match; type defaults to PathPrefix. */
  pathIsAbsolute: {
    rule: "(has(self.type) && self.type == 'RegularExpression') || self.value.startsWith('/')",
    message: 'an Exact or PathPrefix path must start with /',
    fieldPath: '.value',
  },
  /** On each RtspRoute path match. */
  boundedPathRegex: {
    rule: `!has(self.type) || self.type != 'RegularExpression' || size(self.value) <= ${MAX_PATH_REGEX_LENGTH}`,
    message: `a RegularExpression path is at most ${MAX_PATH_REGEX_LENGTH} characters`,
    fieldPath: '.value',
  },
  /** On RtspRoute's healthCheck: a probe that outlives its interval overlaps the next one. */
  healthCheckTimeoutWithinInterval: {
    rule: '!has(self.timeout) || !has(self.interval) || duration(self.timeout) <= duration(self.interval)',
    message: 'healthCheck timeout must not be longer than its interval',
    fieldPath: '.timeout',
  },
} as const satisfies Record<string, CelRule>;

/** The project's own side of every rule above, on a route whose JSON Schema shape is already good. */
export function routeRuleProblems(route: UdpRoute | RtspRoute): FieldProblem[] {
  const problems = parentRefProblems(route.spec.parentRefs);
  if (route.kind === 'UdpRoute') {
    problems.push(...backendWeightProblems(route.spec.backendRefs, 'spec.backendRefs'));
    if (route.spec.rtp && route.spec.protocol !== 'RTP') problems.push({ field: 'spec.rtp', reason: celRules.rtpNeedsProtocolRtp.message });
    for (const key of Object.keys(route.spec.rtp?.clockRate ?? {})) {
      if (!new RegExp(PAYLOAD_TYPE_PATTERN).test(key)) problems.push({ field: 'spec.rtp.clockRate', reason: `${celRules.clockRateKeys.message} (got ${JSON.stringify(key)})` });
    }
  } else {
    route.spec.rules.forEach((rule, r) => {
      problems.push(...backendWeightProblems(rule.backendRefs, `spec.rules[${r}].backendRefs`));
      (rule.matches ?? []).forEach((match, m) => {
        const path = match.path;
        if (!path) return;
        const field = `spec.rules[${r}].matches[${m}].path.value`;
        if ((path.type ?? 'PathPrefix') !== 'RegularExpression') {
          if (!path.value.startsWith('/')) problems.push({ field, reason: `path ${JSON.stringify(path.value)}: ${celRules.pathIsAbsolute.message}` });
        } else if ([...path.value].length > MAX_PATH_REGEX_LENGTH) {
          problems.push({ field, reason: `${celRules.boundedPathRegex.message} (got ${[...path.value].length})` });
        }
      });
    });
    const { timeout, interval } = route.spec.healthCheck ?? {};
    const [timeoutMs, intervalMs] = [timeout, interval].map((d) => (d === undefined ? undefined : parseDurationMs(d)));
    if (timeoutMs !== undefined && intervalMs !== undefined && timeoutMs > intervalMs) {
      problems.push({ field: 'spec.healthCheck.timeout', reason: `${celRules.healthCheckTimeoutWithinInterval.message} (timeout ${timeout}, interval ${interval})` });
    }
  }
  return problems;
}

function parentRefProblems(parents: readonly ParentRef[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const portOwner = new Map<number, number>();
  let ports = 0;
  parents.forEach((ref, i) => {
    const field = `spec.parentRefs[${i}]`;
    const end = ref.endPort ?? ref.port;
    if (end < ref.port) return problems.push({ field: `${field}.endPort`, reason: `${celRules.endPortNotBelowPort.message} (endPort ${end}, port ${ref.port})` });
    if (ports + (end - ref.port + 1) > MAX_LISTENERS_PER_ROUTE) {
      return problems.push({ field: ref.endPort === undefined ? `${field}.port` : `${field}.endPort`, reason: celRules.boundedPortCount.message, code: 'ResourceLimit' });
    }
    ports += end - ref.port + 1;
    for (let port = ref.port; port <= end; port++) {
      const other = portOwner.get(port);
      if (other !== undefined) return problems.push({ field: `${field}.port`, reason: `port ${port} is already served by this route through spec.parentRefs[${other}]; ${celRules.portServedOnce.message}`, code: 'Conflicted' });
      portOwner.set(port, i);
    }
    return undefined;
  });
  return problems;
}

function backendWeightProblems(refs: readonly BackendRef[], field: string): FieldProblem[] {
  return refs.length > 0 && refs.every((b) => (b.weight ?? 1) === 0) ? [{ field, reason: celRules.someBackendWeighted.message }] : [];
}
