#!/usr/bin/env node
// The SQS + S3 emulator (fauxqs) on loopback only: node emulator.js [--port N]
// Port 0 (the default) lets the system choose; the chosen port is printed on stdout as
// "listening PORT" once the server accepts connections. Everything else goes to stderr.
// Environment: EMU_BODY_LIMIT (bytes, default 64 MiB) raises fauxqs's 11 MiB request body limit
// so that 20 MB multipart parts pass; EMU_LOG=1 turns fastify's request log on (stderr).
'use strict';

function parsePort(argv) {
  const i = argv.indexOf('--port');
  const port = i >= 0 ? Number(argv[i + 1]) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`bad --port ${argv[i + 1]}`);
  }
  return port;
}

// fauxqs registers its catch-all S3 body parser with fastify's server-wide limit (11 MiB). The parser
// reads its limit at request time, so raising it on the registered parser is enough.
function raiseBodyLimit(app, limit) {
  for (const sym of Object.getOwnPropertySymbols(app)) {
    const ctp = app[sym];
    if (ctp && ctp.customParsers instanceof Map) {
      let n = 0;
      for (const parser of ctp.customParsers.values()) {
        if (parser && typeof parser.bodyLimit === 'number') {
          parser.bodyLimit = Math.max(parser.bodyLimit, limit);
          n++;
        }
      }
      if (n > 0) return true;
    }
  }
  return false;
}

async function main() {
  const port = parsePort(process.argv.slice(2));
  const { buildApp } = await import('fauxqs');
  const app = buildApp({ logger: process.env.EMU_LOG === '1' ? { level: 'info' } : false });
  const limit = Number(process.env.EMU_BODY_LIMIT || 64 * 1048576);
  if (!raiseBodyLimit(app, limit)) {
    process.stderr.write('emulator: could not raise the request body limit (fauxqs keeps 11 MiB)\n');
  }
  await app.listen({ host: '127.0.0.1', port });
  const addr = app.server.address();
  process.stdout.write(`listening ${addr.port}\n`);
  let closing = false;
  const stop = (sig) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`emulator: ${sig}, closing\n`);
    const t = setTimeout(() => process.exit(0), 2000);
    t.unref();
    app.close().then(() => process.exit(0), () => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`emulator: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
