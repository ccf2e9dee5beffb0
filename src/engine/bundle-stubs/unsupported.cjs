// Bundle-only stand-in for packages dockerode and docker-modem require at load time but resolver
// never uses: @grpc/grpc-js and @grpc/proto-loader (BuildKit sessions) and ssh2 (ssh:// engines, which
// resolver refuses in engine/docker-host.ts). Loading them cost ~250 ms per command (bench/README.md).
'use strict';
function unsupported() {
  throw new Error('this Docker Engine feature (BuildKit session or ssh:// host) is not supported by resolver');
}
module.exports = new Proxy({}, {
  get(_target, key) {
    if (key === '__esModule') return false;
    if (key === 'default') return module.exports;
    return unsupported;
  },
});
