// The RTSP filter delivered the way a stock Envoy image needs it: Envoy
// fetches the .wasm from the control plane's admin over HTTP, checks its
// sha256, and runs it; nothing is on Envoy's disk. The filter proves itself
// by answering a request for an unknown path with 404 and the client's CSeq.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { stringify } from 'yaml';
import { bootstrapYaml } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { builtRtspFilterPath } from '../../xds-server/src/cli/rtsp-filter-option.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { ControlPlaneProcess } from '../helpers/control-plane-process.js';
import { ConfigDir } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';
import { freeTcpPort } from '../helpers/ports.js';
import { rtspExchange } from '../helpers/rtsp.js';

describe('RTSP filter fetched from the control plane (remote .wasm with sha256)', function () {
  this.timeout(60_000);
  const config = new ConfigDir();
  let cp: ControlPlaneProcess | undefined;
  let envoy: EnvoyProcess | undefined;
  let port = 0;
  let sha256 = '';

  before(async () => {
    const wasm = builtRtspFilterPath();
    assert.ok(wasm, 'the RTSP filter is not built: run npm run setup');
    port = await freeTcpPort();
    const docs = [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'cams', namespace: 'media' }, spec: { clusterIP: '127.0.0.1', ports: [{ port, protocol: 'TCP' }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'cam-v1', namespace: 'media' }, spec: { ports: [{ port: 8554, protocol: 'TCP' }] } },
      { apiVersion: 'mediamesh.io/v1alpha1', kind: 'RtspRoute', metadata: { name: 'cams', namespace: 'media' }, spec: { parentRefs: [{ name: 'cams', port }], rules: [{ matches: [{ path: { value: '/cam1' } }], backendRefs: [{ name: 'cam-v1', port: 8554 }] }] } },
    ];
    config.write('cams.yaml', docs.map((d) => stringify(d)).join('---\n'));
    cp = await ControlPlaneProcess.start(config.dir, 0, ['--rtsp-filter', 'remote']);
    envoy = await EnvoyProcess.start({ bootstrapYaml: bootstrapYaml({ nodeId: 'remote-rtsp', cluster: 'mediamesh-proxy', xdsHost: '127.0.0.1', xdsPort: cp.xdsPort, adminAddress: '127.0.0.1', adminPort: 0, delta: false, extensionsHost: '127.0.0.1', extensionsPort: cp.adminPort }) });
    sha256 = createHash('sha256').update(fs.readFileSync(wasm)).digest('hex');
  });

  after(async () => {
    await envoy?.stop();
    await cp?.stop();
    config.cleanup();
  });

  it('fetches the .wasm over HTTP, runs it, and the filter answers', async () => {
    await waitFor('RTSP listener active in Envoy', async () => (await envoy!.admin.listenerNames()).includes(`rtsp~media~cams~${port}`), 30_000);
    assert.ok(cp!.logLines().some((l) => l.includes('"msg":"serving extension"') && l.includes(`/extensions/rtsp-filter/${sha256}.wasm`)), 'Envoy downloaded this build of the .wasm from the control plane');
    const exchange = await rtspExchange(port, `DESCRIBE rtsp://127.0.0.1:${port}/unknown RTSP/1.0\r\nCSeq: 12\r\n\r\n`, { untilClose: true });
    assert.equal(exchange.response?.status, 404, exchange.received);
    assert.equal(exchange.response?.headers.get('cseq'), '12');
    const lds = (await cp!.debugNodes()).nodes.find((n) => n.id === 'remote-rtsp')!.types.LDS!;
    assert.equal(lds.ackedVersion, lds.sentVersion, 'the listener was ACKed');
  });
});
