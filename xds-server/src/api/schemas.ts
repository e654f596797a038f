// JSON Schemas for every document kind. They check shape; api/validate.ts
// checks meaning (references, clashes, regexes). Unknown fields are errors so
// a typo is reported instead of silently ignored. Descriptions on our own
// kinds end up in the CRDs (api/crds.ts), so `kubectl explain` shows them.
// Rules JSON Schema cannot say sit on their nodes as CEL
// (x-kubernetes-validations: the API server applies them, the validator
// ignores the keyword and runs route-rules.ts's TypeScript twin instead).

import { type CelRule, celRules, MAX_PATH_REGEX_LENGTH } from './route-rules.js';
import { MEDIAMESH_API_VERSION } from './types.js';

type Schema = Record<string, unknown>;

const doc = (description: string, schema: Schema): Schema => ({ description, ...schema });
const withRules = (schema: Schema, ...rules: CelRule[]): Schema => ({ ...schema, 'x-kubernetes-validations': rules.map((r) => ({ ...r })) });

const dnsLabel = { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' };
const dnsSubdomain = { type: 'string', minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' };
const port = { type: 'integer', minimum: 1, maximum: 65535 };
export const durationPattern = '^([0-9]+(\\.[0-9]+)?(h|m|s|ms|us|ns))+$';
const duration = { type: 'string', pattern: durationPattern };

const metadata: Schema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: dnsSubdomain,
    namespace: dnsLabel,
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
  // Kubernetes adds uid, resourceVersion, creationTimestamp...: tolerate them.
  additionalProperties: true,
};

const parentRef: Schema = withRules(doc('The Service clients send to, and the port (or port range) of it the route takes over.', {
  type: 'object',
  required: ['name', 'port'],
  additionalProperties: false,
  properties: {
    group: doc('Core API group only: "" or "core".', { type: 'string', enum: ['', 'core'] }),
    kind: doc('Service (the default).', { type: 'string', enum: ['Service'] }),
    name: doc('Name of the Service.', dnsSubdomain),
    namespace: doc("The Service's namespace; default: the route's.", dnsLabel),
    port: doc('Service port the route attaches to.', port),
    endPort: doc('With port, the route takes every port from port to endPort (e.g. RTP/RTCP pairs).', port),
  },
}), celRules.endPortNotBelowPort);

const parentRefs: Schema = withRules({ type: 'array', minItems: 1, maxItems: 16, items: parentRef }, celRules.portServedOnce, celRules.boundedPortCount);

const backendRef: Schema = doc('A Service that receives traffic, and its share.', {
  type: 'object',
  required: ['name', 'port'],
  additionalProperties: false,
  properties: {
    group: doc('Core API group only: "" or "core".', { type: 'string', enum: ['', 'core'] }),
    kind: doc('Service (the default).', { type: 'string', enum: ['Service'] }),
    name: doc('Name of the backend Service.', dnsSubdomain),
    namespace: doc("The backend's namespace; default: the route's.", dnsLabel),
    port: doc("Service port to send to; its EndpointSlices' matching port is where traffic goes.", port),
    weight: doc('Relative share of sessions (default 1; 0 sends none). 90 and 10 make a 10% canary.', { type: 'integer', minimum: 0, maximum: 1_000_000 }),
  },
});

const backendRefs: Schema = withRules({ type: 'array', minItems: 1, maxItems: 16, items: backendRef }, celRules.someBackendWeighted);

const apiVersionOf = (v: string): Schema => ({ type: 'string', const: v });

/** One of our CRs: apiVersion, kind, metadata, a free-form status, and `spec`. */
function customResource(kind: string, spec: Schema): Schema {
  return {
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: apiVersionOf(MEDIAMESH_API_VERSION),
      kind: { const: kind },
      metadata,
      status: { type: 'object' },
      spec,
    },
    additionalProperties: false,
  };
}

export const udpRouteSchema: Schema = customResource('UdpRoute', withRules(doc('Sends UDP datagrams that reach a Service port to weighted backend Services, through the sidecar.', {
  type: 'object',
  required: ['parentRefs', 'backendRefs'],
  additionalProperties: false,
  properties: {
    parentRefs,
    protocol: doc('RTP: the RTP filter counts packets, loss, reordering and jitter. Raw (default): plain UDP.', { type: 'string', enum: ['RTP', 'Raw'] }),
    backendRefs,
    sessionAffinity: doc('SourceIPPort (default): one session per client address and port. SourceIP: every flow of a client to the same backend. None: each datagram balanced on its own.', { type: 'string', enum: ['SourceIP', 'SourceIPPort', 'None'] }),
    idleTimeout: doc('A session with no datagrams for this long ends (Go duration, default 60s).', duration),
    rtp: doc('RTP settings, used when protocol is RTP.', {
      type: 'object',
      additionalProperties: false,
      properties: {
        clockRate: withRules(doc('RTP clock rate in Hz by payload type ("0".."127"), for jitter; defaults follow RFC 3551, 90 kHz for dynamic types.', {
          type: 'object',
          maxProperties: 128,
          additionalProperties: { type: 'integer', minimum: 1, maximum: 10_000_000 },
        }), celRules.clockRateKeys),
        trackSequence: doc('Accepted for forward compatibility; no effect yet (RTP routes always track sequence numbers).', { type: 'boolean' }),
      },
    }),
  },
}), celRules.rtpNeedsProtocolRtp));

export const rtspRouteSchema: Schema = customResource('RtspRoute', doc('RTSP routing by URL (host and path of the first request) to weighted backend Services, with RTSP OPTIONS health checks and connect-failure ejection.', {
  type: 'object',
  required: ['parentRefs', 'rules'],
  additionalProperties: false,
  properties: {
    parentRefs,
    hostnames: doc('Hosts of the request URL this route answers (rtsp://<host>/...), lower case; a leading "*." matches any name with one or more labels in its place. Empty: any host.', {
      type: 'array',
      maxItems: 16,
      items: { type: 'string', minLength: 1, maxLength: 253, pattern: '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' },
    }),
    rules: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      items: {
        type: 'object',
        required: ['backendRefs'],
        additionalProperties: false,
        properties: {
          matches: {
            type: 'array',
            maxItems: 16,
            items: {
              type: 'object',
              additionalProperties: false,
              properties: {
                path: withRules({
                  type: 'object',
                  required: ['value'],
                  additionalProperties: false,
                  properties: {
                    type: doc('PathPrefix (the default), Exact, or RegularExpression (RE2).', { type: 'string', enum: ['Exact', 'PathPrefix', 'RegularExpression'] }),
                    value: doc(`The path; Exact and PathPrefix values start with /, a RegularExpression is at most ${MAX_PATH_REGEX_LENGTH} characters.`, { type: 'string', minLength: 1, maxLength: 1024 }),
                  },
                }, celRules.pathIsAbsolute, celRules.boundedPathRegex),
              },
            },
          },
          backendRefs,
          transport: { type: 'string', enum: ['Auto', 'TCP', 'UDP'] },
        },
      },
    },
    healthCheck: withRules({
      type: 'object',
      additionalProperties: false,
      properties: {
        interval: duration,
        timeout: duration,
        healthyThreshold: { type: 'integer', minimum: 1, maximum: 100 },
        unhealthyThreshold: { type: 'integer', minimum: 1, maximum: 100 },
      },
    }, celRules.healthCheckTimeoutWithinInterval),
    outlierDetection: {
      type: 'object',
      additionalProperties: false,
      properties: {
        consecutiveFailures: { type: 'integer', minimum: 1, maximum: 1000 },
        interval: duration,
        baseEjectionTime: duration,
      },
    },
    timeouts: {
      type: 'object',
      additionalProperties: false,
      properties: { connect: duration, idle: duration },
    },
  },
}));

const protocol = { type: 'string', enum: ['TCP', 'UDP', 'SCTP'] };

export const serviceSchema: Schema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: apiVersionOf('v1'),
    kind: { const: 'Service' },
    metadata,
    status: { type: 'object' },
    spec: {
      type: 'object',
      required: ['ports'],
      // A real cluster's Service has many more fields (type, sessionAffinity, ...): keep them.
      additionalProperties: true,
      properties: {
        clusterIP: { type: 'string', minLength: 1 },
        ports: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['port'],
            additionalProperties: true,
            properties: {
              name: dnsLabel,
              port,
              targetPort: { anyOf: [port, dnsLabel] },
              protocol,
            },
          },
        },
        selector: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
  },
  additionalProperties: false,
};

export const endpointSliceSchema: Schema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'addressType', 'endpoints'],
  properties: {
    apiVersion: apiVersionOf('discovery.k8s.io/v1'),
    kind: { const: 'EndpointSlice' },
    metadata: {
      ...metadata,
      required: ['name', 'labels'],
      properties: {
        ...(metadata.properties as Record<string, unknown>),
        labels: {
          type: 'object',
          required: ['kubernetes.io/service-name'],
          additionalProperties: { type: 'string' },
        },
      },
    },
    addressType: { type: 'string', enum: ['IPv4', 'IPv6', 'FQDN'] },
    ports: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: { name: { type: 'string' }, port, protocol },
      },
    },
    endpoints: {
      type: 'array',
      items: {
        type: 'object',
        required: ['addresses'],
        additionalProperties: true,
        properties: {
          addresses: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          conditions: {
            type: 'object',
            additionalProperties: false,
            properties: { ready: { type: 'boolean' }, serving: { type: 'boolean' }, terminating: { type: 'boolean' } },
          },
        },
      },
    },
  },
  additionalProperties: false,
};

export const schemasByKind: Record<string, { apiVersion: string; schema: Schema }> = {
  UdpRoute: { apiVersion: MEDIAMESH_API_VERSION, schema: udpRouteSchema },
  RtspRoute: { apiVersion: MEDIAMESH_API_VERSION, schema: rtspRouteSchema },
  Service: { apiVersion: 'v1', schema: serviceSchema },
  EndpointSlice: { apiVersion: 'discovery.k8s.io/v1', schema: endpointSliceSchema },
};

