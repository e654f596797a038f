// Loaded by mocha before any spec: keep the control plane's logs to errors
// unless a developer asks for more (MEDIAMESH_LOG_LEVEL=debug npm test).
process.env.MEDIAMESH_LOG_LEVEL ??= 'error';
