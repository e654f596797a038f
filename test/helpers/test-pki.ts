// Throwaway certificate authorities and certificates for mTLS tests, made
// with the openssl CLI in a temp dir (P-256 keys, valid one day). Nothing
// here is committed: every run makes its own.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface IssuedCert {
  cert: string;
  key: string;
}

export class TestPki {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediamesh-pki-'));

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** A self-signed CA; returns the paths of its certificate and key. */
  ca(name: string): IssuedCert {
    const cert = path.join(this.dir, `${name}.crt`);
    const key = path.join(this.dir, `${name}.key`);
    this.openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    return { cert, key };
  }

  /**
   * A leaf certificate signed by `ca` for both TLS client and server use.
   * `sans` are OpenSSL's `type = value` lines, e.g. ['URI = spiffe://td/ns/a/sa/b', 'IP = 127.0.0.1'];
   * each value is taken verbatim (commas included).
   */
  issue(name: string, ca: IssuedCert, sans: string[]): IssuedCert {
    const cert = path.join(this.dir, `${name}.crt`);
    const key = path.join(this.dir, `${name}.key`);
    const csr = path.join(this.dir, `${name}.csr`);
    const ext = path.join(this.dir, `${name}.ext`);
    const counters = new Map<string, number>();
    const altLines = sans.map((line) => {
      const [type, value] = line.split(/\s*=\s*(.*)/s) as [string, string];
      const n = (counters.get(type) ?? 0) + 1;
      counters.set(type, n);
      return `${type}.${n} = ${value}`;
    });
    fs.writeFileSync(ext, [
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth, clientAuth',
      ...(sans.length > 0 ? ['subjectAltName = @alt', '[alt]', ...altLines] : []),
      '',
    ].join('\n'));
    this.openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`);
    this.openssl('x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '1', '-out', cert, '-extfile', ext);
    return { cert, key };
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
