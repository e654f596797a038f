// CustomResourceDefinitions for our kinds, derived from the same JSON Schemas
// the validator uses, so the cluster and the file source accept the same
// shapes. manifests/crds/ holds their YAML (checked by a golden test).
//
// Kubernetes wants a structural schema: every node typed, `properties` and
// `additionalProperties` not both set, no `const`, `propertyNames` or `$ref`.
// What that drops (unknown-field rejection) the API server replaces with
// pruning (and `kubectl apply`'s strict field validation), and the control
// plane still checks when it reads the object. The schemas' CEL rules
// (x-kubernetes-validations, see route-rules.ts) pass through unchanged.
import { rtspRouteSchema, udpRouteSchema } from './schemas.js';
import { MEDIAMESH_API_VERSION } from './types.js';

type Schema = Record<string, unknown>;

const [CRD_GROUP, CRD_VERSION] = MEDIAMESH_API_VERSION.split('/') as [string, string];

interface KindSpec {
  kind: string;
  plural: string;
  schema: Schema;
  shortNames: string[];
  printerColumns: PrinterColumn[];
}

interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  /** 1: only in `kubectl get -o wide`. */
  priority?: number;
}

// The first parent, and its conditions as the control plane writes them
// (status.parents[] in parentRefs order, Gateway API style). A column shows
// the first match of its path only.
const parentColumns: PrinterColumn[] = [
  { name: 'Parent', type: 'string', jsonPath: '.spec.parentRefs[0].name', description: 'The first parent Service' },
  { name: 'Port', type: 'integer', jsonPath: '.spec.parentRefs[0].port', description: "The first parent's port" },
];
const conditionColumns: PrinterColumn[] = ['Accepted', 'Programmed'].map((type) => ({
  name: type,
  type: 'string',
  jsonPath: `.status.parents[0].conditions[?(@.type=="${type}")].status`,
  description: `The ${type} condition of the first parent: ${type === 'Accepted' ? 'the route is valid and its references resolve' : 'the proxies that should have it hold it (False with the reason if Envoy rejected it)'}`,
}));

const kinds: KindSpec[] = [
  {
    kind: 'UdpRoute',
    plural: 'udproutes',
    schema: udpRouteSchema,
    shortNames: ['udpr'],
    printerColumns: [
      { name: 'Protocol', type: 'string', jsonPath: '.spec.protocol', description: 'RTP (tracked by the RTP filter) or Raw (the default when empty)' },
      ...parentColumns,
      ...conditionColumns,
      { name: 'Affinity', type: 'string', jsonPath: '.spec.sessionAffinity', description: 'How sessions stick to a backend', priority: 1 },
    ],
  },
  {
    kind: 'RtspRoute',
    plural: 'rtsproutes',
    schema: rtspRouteSchema,
    shortNames: ['rtspr'],
    printerColumns: [
      ...parentColumns,
      ...conditionColumns,
      { name: 'Transport', type: 'string', jsonPath: '.spec.rules[0].transport', description: "The first rule's RTP transport (Auto when empty)", priority: 1 },
      { name: 'Hostnames', type: 'string', jsonPath: '.spec.hostnames', description: 'RTSP hostnames the route matches', priority: 1 },
    ],
  },
];

/** A validator schema node turned into a Kubernetes structural schema node. */
function structural(node: Schema): Schema {
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case 'const':
        out.enum = [value];
        break;
      case 'propertyNames':
        break;
      case 'additionalProperties':
        if (typeof value === 'object' && value !== null) out.additionalProperties = structural(value as Schema);
        else if (value === true && node.properties === undefined) out['x-kubernetes-preserve-unknown-fields'] = true;
        break;
      case 'properties':
        out.properties = Object.fromEntries(Object.entries(value as Record<string, Schema>).map(([name, child]) => [name, structural(child)]));
        break;
      case 'items':
        out.items = structural(value as Schema);
        break;
      default:
        out[key] = value;
    }
  }
  // An untyped object with no fields of its own (e.g. `status` for now) keeps whatever is written to it.
  if (out.type === 'object' && out.properties === undefined && out.additionalProperties === undefined) out['x-kubernetes-preserve-unknown-fields'] = true;
  return out;
}

function openApiSchema(document: Schema): Schema {
  const top = document.properties as Record<string, Schema>;
  return {
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: structural(top.spec!),
      status: structural(top.status!),
    },
  };
}

export function customResourceDefinitions(): Schema[] {
  return kinds.map((k) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${CRD_GROUP}`, labels: { 'app.kubernetes.io/part-of': 'mediamesh' } },
    spec: {
      group: CRD_GROUP,
      names: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.kind.toLowerCase(), shortNames: k.shortNames, categories: ['mediamesh'] },
      scope: 'Namespaced',
      versions: [
        {
          name: CRD_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [...k.printerColumns, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
          schema: { openAPIV3Schema: openApiSchema(k.schema) },
        },
      ],
    },
  }));
}

/** The file name a CRD is kept under in manifests/crds/. */
export function crdFileName(crd: Schema): string {
  const spec = crd.spec as { group: string; names: { plural: string } };
  return `${spec.group}_${spec.names.plural}.yaml`;
}
