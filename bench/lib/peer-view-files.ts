// The resource files the go-control-plane peer serves: one JSON file per
// proxy view, `view-<key>.json`, read by bench/go-control-plane/main.go:
//
//   {"view": "ns-3", "types": [{"typeUrl": "...", "version": "...",
//                               "resources": ["<base64 of the serialized resource>", ...]}]}
//
// The bytes are exactly what mediamesh packs into its responses, and each
// type's version is mediamesh's content version for it, so both servers push
// a type only when its content changed. Files are written by rename: the peer
// never reads half a file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Snapshot } from '../../xds-server/src/xds/snapshot.js';
import { pushOrder } from '../../xds-server/src/xds/type-urls.js';

export function viewFileText(key: string, snapshot: Snapshot): string {
  const types = pushOrder.map((typeUrl) => {
    const t = snapshot.forType(typeUrl);
    return { typeUrl, version: t.version, resources: t.list.map((r) => Buffer.from(r.packed.value).toString('base64')) };
  });
  return JSON.stringify({ view: key, types });
}

export class PeerViewDir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediamesh-bench-peer-'));
  private readonly written = new Map<string, string>();

  /** View keys whose text differs from what the directory holds: what `write` would rewrite. */
  changed(texts: ReadonlyMap<string, string>): string[] {
    return [...texts].filter(([key, text]) => this.written.get(key) !== text).map(([key]) => key);
  }

  /** Writes (by rename) every view given. */
  write(texts: ReadonlyMap<string, string>): void {
    for (const [key, text] of texts) {
      const name = `view-${key}.json`;
      const tmp = path.join(this.dir, `.${name}.tmp`);
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, path.join(this.dir, name));
      this.written.set(key, text);
    }
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
