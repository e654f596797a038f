// The bad and edge-case routes under test/fixtures/: what the API server (with
// our CRDs) and mediamesh's own validation must each say about them.
//
// A file in test/fixtures/crd-rejects/ holds one route and starts with
//   # expect: <part of the API server's rejection message>
//   # mediamesh validate: <field path>: <part of mediamesh's reason>
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { parseYamlText } from '../../xds-server/src/sources/read-yaml.js';
import type { SourcedDocument } from '../../xds-server/src/api/types.js';

export const CRD_DIR = path.join(projectRoot(), 'manifests/crds');
export const REJECTS_DIR = path.join(projectRoot(), 'test/fixtures/crd-rejects');
export const ACCEPTS_FILE = path.join(projectRoot(), 'test/fixtures/crd-accepts/edge-cases.yaml');

export interface RejectFixture {
  /** File name in REJECTS_DIR. */
  file: string;
  path: string;
  kind: string;
  name: string;
  /** A part of the API server's message (kubectl apply's stderr). */
  apiServerSays: string;
  /** The field mediamesh's validation reports, and a part of its reason. */
  validateField: string;
  validateSays: string;
  document: SourcedDocument;
}

const EXPECT = /^# expect: (.+)$/;
const VALIDATE = /^# mediamesh validate: (\S*): (.+)$/;

export function rejectFixtures(): RejectFixture[] {
  return fs.readdirSync(REJECTS_DIR).filter((f) => f.endsWith('.yaml')).sort().map((file) => {
    const full = path.join(REJECTS_DIR, file);
    const text = fs.readFileSync(full, 'utf8');
    const [first = '', second = ''] = text.split('\n');
    const expect = EXPECT.exec(first);
    const validate = VALIDATE.exec(second);
    if (!expect || !validate) throw new Error(`${file}: the first two lines must be "# expect: ..." and "# mediamesh validate: FIELD: ..."`);
    const parsed = parseYamlText(text, file);
    if (parsed.problems.length > 0 || parsed.documents.length !== 1) throw new Error(`${file}: must hold exactly one YAML document`);
    const document = parsed.documents[0]!;
    const raw = document.document as { kind?: string; metadata?: { name?: string } };
    return {
      file,
      path: full,
      kind: String(raw.kind),
      name: String(raw.metadata?.name),
      apiServerSays: expect[1]!.trim(),
      validateField: validate[1]!,
      validateSays: validate[2]!.trim(),
      document,
    };
  });
}

export function acceptFixtures(): SourcedDocument[] {
  const parsed = parseYamlText(fs.readFileSync(ACCEPTS_FILE, 'utf8'), path.basename(ACCEPTS_FILE));
  if (parsed.problems.length > 0) throw new Error(`${ACCEPTS_FILE}: ${JSON.stringify(parsed.problems)}`);
  return parsed.documents;
}
