// The built mediamesh_rtsp_filter.wasm speaks proxy-wasm ABI 0.2.1 and asks
// its host for nothing Envoy 1.40 does not provide: every import is one the
// filter declares in envoy-filters/wasm/proxy_wasm_abi.h or a WASI function
// of wasi-libc that Envoy implements. (--allow-undefined would otherwise let
// a typo become an import that only fails when Envoy loads the module.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { builtRtspFilterPath } from '../../xds-server/src/cli/rtsp-filter-option.js';

const ALLOWED_IMPORTS = new Set([
  'env.proxy_log', 'env.proxy_get_buffer_bytes', 'env.proxy_set_buffer_bytes', 'env.proxy_close_stream',
  'env.proxy_set_effective_context', 'env.proxy_set_tick_period_milliseconds', 'env.proxy_define_metric',
  'env.proxy_increment_metric', 'env.proxy_record_metric', 'env.proxy_call_foreign_function',
  'env.proxy_continue_stream', 'env.proxy_get_property', 'env.proxy_http_call', 'env.proxy_get_header_map_value',
  'wasi_snapshot_preview1.clock_time_get', 'wasi_snapshot_preview1.fd_write', 'wasi_snapshot_preview1.fd_close',
  'wasi_snapshot_preview1.fd_seek', 'wasi_snapshot_preview1.proc_exit',
]);

const REQUIRED_EXPORTS = [
  'memory', '_initialize', 'proxy_abi_version_0_2_1', 'proxy_on_memory_allocate', 'proxy_on_vm_start', 'proxy_on_context_create',
  'proxy_on_configure', 'proxy_on_tick', 'proxy_on_new_connection', 'proxy_on_downstream_data', 'proxy_on_upstream_data',
  'proxy_on_done', 'proxy_on_delete', 'proxy_on_http_call_response',
];

describe('the RTSP filter .wasm', () => {
  it('exports the ABI 0.2.1 callbacks and imports only what Envoy provides', async () => {
    const file = builtRtspFilterPath();
    assert.ok(file, 'build/envoy-filters/wasm/mediamesh_rtsp_filter.wasm is not built: run npm run setup');
    const module = await WebAssembly.compile(fs.readFileSync(file));
    const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`);
    assert.deepEqual(imports.filter((i) => !ALLOWED_IMPORTS.has(i)), [], 'unexpected imports');
    const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
    assert.deepEqual(REQUIRED_EXPORTS.filter((e) => !exports.has(e)), [], 'missing exports');
  });
});
