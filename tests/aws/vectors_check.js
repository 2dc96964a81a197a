#!/usr/bin/env node
// The proxy's signature check (sigproxy.js verify) against the AWS SigV4 test suite:
//   node tests/aws/vectors_check.js DIR      (DIR = ../shared/aws-sigv4-vectors/v4)
// Every signed request of the suite, header form and presigned form, must be accepted with the suite's
// credentials and clock, and rejected with SignatureDoesNotMatch once its signature is changed.
// The suite signs paths normalised and encoded once ("normalize": true) or as S3 does (false).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { verify, Reject } = require('./sigproxy.js');

// A request file as the suite writes it: request line, "Name:value" headers (continuation lines
// start with white space), an empty line, the body.
function parseRequest(text) {
  const lines = text.split('\n');
  const m = /^(\S+) (.*) HTTP\/1\.1$/.exec(lines[0]);
  const [method, target] = [m[1], m[2]];
  const raw = [];
  let i = 1;
  for (; i < lines.length && lines[i] !== ''; i++) {
    if (/^[ \t]/.test(lines[i]) && raw.length) {
      raw[raw.length - 1] += ` ${lines[i].trim()}`;
    } else {
      raw.push(lines[i]);
    }
  }
  const rawHeaders = [];
  const headers = {};
  for (const line of raw) {
    const c = line.indexOf(':');
    const name = line.slice(0, c);
    const value = line.slice(c + 1);
    rawHeaders.push(name, value);
    const l = name.toLowerCase();
    headers[l] = headers[l] === undefined ? value : `${headers[l]}, ${value}`;
  }
  // on the wire a client percent-encodes what may not appear raw in a request line
  const url = Buffer.from(target, 'utf8').toString('latin1')
    .replace(/[^\x21-\x7e]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return { method, url, headers, rawHeaders, body: Buffer.from(lines.slice(i + 1).join('\n'), 'utf8') };
}

async function outcome(req, body, options) {
  try {
    await verify(req, body, options);
    return 'accepted';
  } catch (err) {
    if (err instanceof Reject) return `${err.code}: ${err.message}${err.extra.CanonicalRequest ? `\n${err.extra.CanonicalRequest}` : ''}`;
    throw err;
  }
}

async function main() {
  const dir = process.argv[2];
  if (!dir || !fs.existsSync(dir)) {
    console.error('usage: node vectors_check.js DIR (the v4 folder of the AWS SigV4 test suite)');
    process.exit(2);
  }
  let passed = 0;
  const failures = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const ctxFile = path.join(dir, name, 'context.json');
    if (!fs.existsSync(ctxFile)) continue;
    const ctx = JSON.parse(fs.readFileSync(ctxFile, 'utf8'));
    const options = {
      now: Date.parse(ctx.timestamp) + 1000,
      accessKeyId: ctx.credentials.access_key_id,
      secretAccessKey: ctx.credentials.secret_access_key,
      region: ctx.region,
      expectService: () => ctx.service,
      pathStyle: () => (ctx.normalize === false ? 's3' : 'single'),
    };
    for (const form of ['header', 'query']) {
      const file = path.join(dir, name, `${form}-signed-request.txt`);
      if (!fs.existsSync(file)) continue;
      // a token added after signing (omit_session_token) is outside the canonical query of a
      // presigned request: a server that knows the token's service would leave it out; ours does not
      if (form === 'query' && ctx.omit_session_token) continue;
      const req = parseRequest(fs.readFileSync(file, 'utf8'));
      const good = await outcome(req, req.body, options);
      if (good === 'accepted') passed++;
      else failures.push(`${name} (${form}): want accepted, got ${good}`);
      // the same with one hex digit of the signature changed
      const flip = (sig) => sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0');
      const bad = { ...req, headers: { ...req.headers }, rawHeaders: [...req.rawHeaders] };
      if (form === 'header') {
        const sig = /Signature=([0-9a-f]+)/.exec(req.headers.authorization)[1];
        bad.headers.authorization = req.headers.authorization.replace(sig, flip(sig));
      } else {
        const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(req.url)[1];
        bad.url = req.url.replace(sig, flip(sig));
      }
      const got = await outcome(bad, bad.body, options);
      if (got.startsWith('SignatureDoesNotMatch')) passed++;
      else failures.push(`${name} (${form}, signature changed): want SignatureDoesNotMatch, got ${got}`);
    }
  }
  for (const f of failures) console.error(`vectors_check: FAIL ${f}`);
  if (failures.length || passed === 0) {
    console.log(`vectors_check: FAILED ${failures.length} of ${passed + failures.length} checks`);
    process.exit(1);
  }
  console.log(`vectors_check: all ${passed} checks ok (AWS SigV4 test suite, header and presigned forms)`);
}

main().catch((err) => {
  console.log(`vectors_check: FAILED: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
