#!/usr/bin/env node
// A SigV4-verifying HTTP proxy on loopback in front of the emulator:
//   node sigproxy.js --upstream EMULATOR_PORT [--port N]
//   node sigproxy.js --upstream-file FILE [--port N]   (waits for the emulator's "listening PORT" line
//                                                        in FILE, so that both can start together)
// Port 0 (the default) lets the system choose; "listening PORT" is printed on stdout once it accepts
// connections. Rejections and injected faults are logged on stderr, one line each.
//
// Every request is checked the way AWS checks it, by signing it again with the official signer
// (@smithy/signature-v4) from the same credentials, the region and service of the request's
// credential scope, the same signed headers and the same X-Amz-Date, and comparing signatures:
//   - header form (Authorization: AWS4-HMAC-SHA256 ...) and presigned URLs (X-Amz-Signature in the
//     query; X-Amz-Date + X-Amz-Expires in the past -> 403 AccessDenied "Request has expired");
//   - X-Amz-Date more than 15 minutes away from now -> 403 RequestTimeTooSkewed;
//   - S3: x-amz-content-sha256 must be present (400 InvalidRequest) and, unless UNSIGNED-PAYLOAD or
//     STREAMING-UNSIGNED-PAYLOAD-TRAILER, equal the SHA-256 of the body (400 XAmzContentSHA256Mismatch);
//     other services: a signed x-amz-content-sha256 must match the body too (else signature mismatch);
//   - unknown access key -> 403 InvalidClientTokenId (SQS) / InvalidAccessKeyId (S3);
//   - wrong signature -> 403 SignatureDoesNotMatch; no signature at all -> 403
//     MissingAuthenticationToken (SQS) / AccessDenied (S3); malformed -> 400 IncompleteSignature (SQS) /
//     AuthorizationHeaderMalformed or AuthorizationQueryParametersError (S3).
// SQS errors are JSON 1.0 ({"__type":"com.amazonaws.sqs#Code","message":...} with header
// x-amzn-query-error: Code;Sender), S3 errors are XML (<Error><Code>...</Code>...</Error>); a
// signature mismatch carries the canonical request and string to sign the proxy expected.
// Accepted requests go to the emulator unchanged (same method, path, query, headers, Host, body).
//
// Credentials: SIGPROXY_ACCESS_KEY_ID / SIGPROXY_SECRET_ACCESS_KEY (defaults below, the same as
// emulators.sh prints). The credential scope must name the request's service (sqs for X-Amz-Target
// AmazonSQS.* or a form POSTed to /, else s3: 403 SignatureDoesNotMatch) and, when SIGPROXY_REGION is
// set (emulators.sh sets us-east-1), that region (S3: 400 AuthorizationHeaderMalformed; SQS: 403). SIGPROXY_MAX_BODY (bytes, default 256 MiB) caps a buffered body (413).
//
// Admin endpoints (no signature; answered only to loopback peers, never forwarded):
//   GET    /__stats   -> {"total":N,"sqs":{"ReceiveMessage":N,...},"s3":{"PUT":N,...},
//                         "rejected":{"SignatureDoesNotMatch":N,...},"faults":N,"forwarded":N}
//                         (every request that reached the proxy, by SQS operation or S3 method)
//   DELETE /__stats   -> resets the counters
//   GET    /__faults  -> the active fault rules
//   POST   /__faults  -> adds one rule or an array of rules (JSON), answers the active rules
//   DELETE /__faults  -> removes every rule
// A fault rule applies to a request whose signature was accepted, instead of (or around) forwarding:
//   {"status":503,"count":2,"match":"ReceiveMessage"}  answer 503 (an AWS-shaped error) twice
//   {"status":500,"code":"InternalError","message":"..."}   code/message of the error (defaults by status)
//   {"drop":1,"match":"s3:PUT"}   close the connection without an answer, once (drop: N = count N)
//   {"drop":1,"when":"after"}     forward first, then drop the answer (the emulator did the work)
//   {"delay_ms":1500,"count":3}   forward after a delay
//   "skip": K lets the first K matching requests through before the rule starts; "count": -1 = forever
//   (default count 1). "match" is a substring of the request's label: "sqs:<Operation>" for SQS
//   (X-Amz-Target, or Action of a Query request), "s3:<METHOD> <path>" for S3; no match = any request.
//   GET    /__delay   -> {"delay_ms":N}: the latency added to every request (SIGPROXY_DELAY_MS at start)
//   POST   /__delay   {"delay_ms":N} sets it (every request then waits N ms before it is checked)
// Rules can also be given at start in SIGPROXY_FAULTS (the same JSON). Rules are tried in order; the
// first one that matches (after its skips) is used for a request.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');

const ACCESS_KEY_ID = process.env.SIGPROXY_ACCESS_KEY_ID || 'AKIAPESTRUNEMULATOR1';
const SECRET_ACCESS_KEY = process.env.SIGPROXY_SECRET_ACCESS_KEY || 'pestrunEmulatorSecretKey0123456789abcdef';
const REGION = process.env.SIGPROXY_REGION || null;
const MAX_BODY = Number(process.env.SIGPROXY_MAX_BODY || 256 * 1048576);
const MAX_SKEW_MS = 15 * 60 * 1000;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const UNSIGNED_PAYLOADS = new Set(['UNSIGNED-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te',
  'trailer', 'upgrade', 'expect']);
const Sha256 = Hash.bind(null, 'sha256');

function args(argv) {
  const get = (name, def) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : def;
  };
  const upstreamFile = get('--upstream-file');
  const upstream = Number(get('--upstream'));
  const port = Number(get('--port', '0'));
  if (!upstreamFile && (!Number.isInteger(upstream) || upstream <= 0 || upstream > 65535)) {
    throw new Error('need --upstream PORT or --upstream-file FILE');
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('bad --port');
  return { upstream, upstreamFile, port };
}

// The emulator's port from its "listening PORT" line, polled for at most a minute.
function waitUpstream(file) {
  const fs = require('node:fs');
  const deadline = Date.now() + 60000;
  return new Promise((resolve, reject) => {
    const poll = () => {
      let text = '';
      try { text = fs.readFileSync(file, 'utf8'); } catch { /* not yet */ }
      const m = /^listening (\d+)$/m.exec(text);
      if (m) return resolve(Number(m[1]));
      if (Date.now() > deadline) return reject(new Error(`no "listening PORT" line in ${file} after 60 s`));
      setTimeout(poll, 20);
      return undefined;
    };
    poll();
  });
}

// ---------------------------------------------------------------------------------------------------
// statistics and faults

const stats = { total: 0, sqs: {}, s3: {}, rejected: {}, faults: 0, forwarded: 0 };
function resetStats() {
  stats.total = 0; stats.sqs = {}; stats.s3 = {}; stats.rejected = {}; stats.faults = 0; stats.forwarded = 0;
}
const bump = (obj, key) => { obj[key] = (obj[key] || 0) + 1; };

let faults = [];
function normalizeRule(r) {
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw new Error('a fault rule is a JSON object');
  const rule = {
    match: r.match === undefined ? '' : String(r.match),
    skip: Number(r.skip || 0),
    when: r.when === 'after' ? 'after' : 'before',
  };
  if (r.drop !== undefined && r.drop !== false && r.drop !== 0) {
    rule.drop = true;
    rule.count = Number(r.count !== undefined ? r.count : (r.drop === true ? 1 : r.drop));
  } else if (r.status !== undefined) {
    rule.status = Number(r.status);
    if (!Number.isInteger(rule.status) || rule.status < 400 || rule.status > 599) throw new Error('status must be 400..599');
    if (r.code !== undefined) rule.code = String(r.code);
    if (r.message !== undefined) rule.message = String(r.message);
    rule.count = Number(r.count !== undefined ? r.count : 1);
  } else if (r.delay_ms !== undefined) {
    rule.delay_ms = Number(r.delay_ms);
    if (!(rule.delay_ms >= 0)) throw new Error('delay_ms must be >= 0');
    rule.count = Number(r.count !== undefined ? r.count : 1);
  } else {
    throw new Error('a fault rule needs "status", "drop" or "delay_ms"');
  }
  if (!Number.isFinite(rule.count) || !Number.isFinite(rule.skip)) throw new Error('count and skip are numbers');
  return rule;
}
function addFaults(spec) {
  const list = Array.isArray(spec) ? spec : [spec];
  const rules = list.map(normalizeRule);
  faults.push(...rules);
}
function takeFault(label) {
  for (const rule of faults) {
    if (rule.count === 0) continue;
    if (rule.match && !label.includes(rule.match)) continue;
    if (rule.skip > 0) { rule.skip--; continue; }
    if (rule.count > 0) rule.count--;
    faults = faults.filter((r) => r.count !== 0);
    return rule;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------
// errors

function xmlEscape(s) {
  return String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' }[c]));
}

function sendError(req, res, service, status, code, message, extra = {}) {
  const requestId = crypto.randomUUID();
  let body;
  const headers = {};
  if (service === 'sqs') {
    headers['content-type'] = 'application/x-amz-json-1.0';
    headers['x-amzn-requestid'] = requestId;
    headers['x-amzn-query-error'] = `${code};${status >= 500 ? 'Receiver' : 'Sender'}`;
    let msg = message;
    if (extra.CanonicalRequest !== undefined) {
      msg += `\n\nThe Canonical String for this request should have been\n'${extra.CanonicalRequest}'\n\n` +
        `The String-to-Sign should have been\n'${extra.StringToSign}'\n`;
    }
    body = JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message: msg });
  } else {
    headers['content-type'] = 'application/xml';
    headers['x-amz-request-id'] = requestId.replace(/-/g, '').slice(0, 16).toUpperCase();
    headers['x-amz-id-2'] = 'sigproxy';
    const fields = Object.entries(extra).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('');
    body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(code)}</Code>` +
      `<Message>${xmlEscape(message)}</Message>${fields}<RequestId>${headers['x-amz-request-id']}</RequestId>` +
      `<HostId>sigproxy</HostId></Error>`;
  }
  headers['content-length'] = Buffer.byteLength(body);
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

class Reject extends Error {
  constructor(status, code, message, extra) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra || {};
  }
}

// ---------------------------------------------------------------------------------------------------
// SigV4

// RFC 3986 encoding as SigV4 wants it (the same as the signer's own escapeUri)
const escapeUri = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
function safeDecode(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}
function parseQuery(raw) {
  const query = {};
  if (!raw) return query;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = safeDecode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : safeDecode(part.slice(eq + 1));
    if (Object.prototype.hasOwnProperty.call(query, key)) {
      query[key] = [].concat(query[key], value);
    } else {
      query[key] = value;
    }
  }
  return query;
}
// The path as a server sees it: each segment decoded, then encoded once the SigV4 way.
const normalizePath = (raw) => raw.split('/').map((seg) => escapeUri(safeDecode(seg))).join('/');
// What the signer gets as path, and whether it escapes (and normalises) it again: S3 signs the path
// encoded once, without normalisation; other AWS services normalise and encode it twice.
// ('single', normalised and encoded once, is what the AWS test suite's vectors use.)
function signerPath(rawPath, style) {
  if (style === 'single') return { path: rawPath.split('/').map(safeDecode).join('/'), uriEscapePath: true };
  return { path: normalizePath(rawPath), uriEscapePath: style !== 's3' };
}

// A header's value as SigV4 canonicalises it: repeated headers joined with ',' (not Node's ', ').
function headerValue(req, name) {
  if (!req.rawHeaders) return req.headers[name] === undefined ? undefined : String(req.headers[name]);
  const values = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i].toLowerCase() === name) values.push(String(req.rawHeaders[i + 1]).trim());
  }
  return values.length ? values.join(',') : undefined;
}

function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  if (!m) return null;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isNaN(t) ? null : new Date(t);
}

function parseCredential(cred) {
  const parts = (cred || '').split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !parts[0] || !/^\d{8}$/.test(parts[1]) || !parts[2] || !parts[3]) {
    return null;
  }
  return { accessKeyId: parts[0], date: parts[1], region: parts[2], service: parts[3] };
}

// The service a request is for, from the request itself: SQS JSON (X-Amz-Target: AmazonSQS.*) or
// Query (a form POSTed to /), else S3.
function requestService(req) {
  if (String(req.headers['x-amz-target'] || '').startsWith('AmazonSQS.')) return 'sqs';
  if (req.method === 'POST' && req.url.split('?')[0] === '/' &&
      String(req.headers['content-type'] || '').includes('x-www-form-urlencoded')) return 'sqs';
  return 's3';
}

function guessService(req) {
  const target = req.headers['x-amz-target'] || '';
  const ct = req.headers['content-type'] || '';
  if (target.startsWith('AmazonSQS') || ct.includes('x-amz-json')) return 'sqs';
  if (ct.includes('x-www-form-urlencoded') && req.method === 'POST' && req.url.split('?')[0] === '/') return 'sqs';
  return 's3';
}

// What the request is, for the counters and fault matching.
function label(req, service, body) {
  if (service === 'sqs') {
    const target = req.headers['x-amz-target'];
    if (target) return { kind: 'sqs', op: String(target).replace(/^AmazonSQS\./, '') };
    const q = parseQuery(req.url.split('?')[1] || '');
    let action = q.Action;
    if (!action && body && body.length && /x-www-form-urlencoded/.test(req.headers['content-type'] || '')) {
      action = new URLSearchParams(body.toString('utf8')).get('Action');
    }
    return { kind: 'sqs', op: action || 'unknown' };
  }
  return { kind: 's3', op: req.method, path: req.url.split('?')[0] };
}

function signerFor(service, region, ctx, uriEscapePath) {
  const signer = new SignatureV4({
    credentials: { accessKeyId: ctx.accessKeyId, secretAccessKey: ctx.secretAccessKey },
    region,
    service,
    sha256: Sha256,
    uriEscapePath,
    applyChecksum: false,
  });
  // keep what the signer computed, for the error message
  const seen = {};
  const createCanonicalRequest = signer.createCanonicalRequest.bind(signer);
  signer.createCanonicalRequest = (...a) => (seen.canonical = createCanonicalRequest(...a));
  const createStringToSign = signer.createStringToSign.bind(signer);
  signer.createStringToSign = async (...a) => (seen.stringToSign = await createStringToSign(...a));
  return { signer, seen };
}

function sameSignature(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

function checkDate(date, now) {
  if (Math.abs(now - date.getTime()) > MAX_SKEW_MS) {
    throw new Reject(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.',
      { RequestTime: date.toISOString(), ServerTime: new Date(now).toISOString(), MaxAllowedSkewMilliseconds: MAX_SKEW_MS });
  }
}

// The credential scope must name the request's service and, when the proxy has one, its region.
function checkScope(req, cred, ctx, presigned) {
  const want = ctx.expectService ? ctx.expectService(req) : null;
  if (want && cred.service !== want) {
    throw new Reject(403, 'SignatureDoesNotMatch', `Credential should be scoped to correct service: '${want}'.`);
  }
  if (ctx.region && cred.region !== ctx.region) {
    if (guessService(req) === 's3') {
      const code = presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed';
      throw new Reject(400, code, `The authorization ${presigned ? 'query parameters are' : 'header is'} malformed; the region '${cred.region}' is wrong; expecting '${ctx.region}'`,
        { Region: ctx.region });
    }
    throw new Reject(403, 'SignatureDoesNotMatch', `Credential should be scoped to a valid region: '${ctx.region}'.`);
  }
}

function checkAccessKey(service, accessKeyId, ctx) {
  if (accessKeyId === ctx.accessKeyId) return;
  if (service === 's3') {
    throw new Reject(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.',
      { AWSAccessKeyId: accessKeyId });
  }
  throw new Reject(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
}

function mismatch(service, accessKeyId, seen, detail) {
  const message = service === 's3'
    ? 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'
    : 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
  return new Reject(403, 'SignatureDoesNotMatch', detail ? `${message} (${detail})` : message, {
    AWSAccessKeyId: accessKeyId,
    StringToSign: seen.stringToSign || '',
    CanonicalRequest: seen.canonical || '',
  });
}

// S3: x-amz-content-sha256 against the body
function checkContentSha256(req, body, { required }) {
  const claimed = req.headers['x-amz-content-sha256'];
  if (claimed === undefined) {
    if (required) throw new Reject(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    return;
  }
  if (UNSIGNED_PAYLOADS.has(claimed)) return;
  if (!/^[0-9a-f]{64}$/.test(claimed)) {
    throw new Reject(400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, or a valid sha256 value.',
      { ArgumentName: 'x-amz-content-sha256', ArgumentValue: claimed });
  }
  const actual = crypto.createHash('sha256').update(body).digest('hex');
  if (actual !== claimed) {
    throw new Reject(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.",
      { ClientComputedContentSHA256: claimed, S3ComputedContentSHA256: actual });
  }
}

function splitUrl(url) {
  const q = url.indexOf('?');
  return q < 0 ? { rawPath: url, rawQuery: '' } : { rawPath: url.slice(0, q), rawQuery: url.slice(q + 1) };
}

async function verifyHeaderAuth(req, body, auth, ctx) {
  const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(auth);
  let service = guessService(req);
  if (!m) {
    const algo = auth.split(/\s/)[0];
    throw new Reject(400, service === 's3' ? 'AuthorizationHeaderMalformed' : 'IncompleteSignature',
      `Unsupported Authorization algorithm: ${algo}`);
  }
  const fields = {};
  for (const part of m[1].split(/\s*,\s*/)) {
    const eq = part.indexOf('=');
    if (eq > 0) fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  const cred = parseCredential(fields.Credential);
  const kind = service; // error codes follow the service addressed, signing the scope's
  if (cred) service = cred.service;
  const malformed = (msg) => new Reject(400, kind === 's3' ? 'AuthorizationHeaderMalformed' : 'IncompleteSignature', msg);
  if (!cred || !fields.SignedHeaders || !fields.Signature) {
    throw malformed('The authorization header is malformed; it needs Credential=, SignedHeaders= and Signature=.');
  }
  checkAccessKey(kind, cred.accessKeyId, ctx);
  checkScope(req, cred, ctx, false);
  const date = parseAmzDate(headerValue(req, 'x-amz-date'));
  if (!date) throw malformed('The request needs one valid X-Amz-Date header (YYYYMMDDTHHMMSSZ).');
  checkDate(date, ctx.now);
  const signed = fields.SignedHeaders.split(';').map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (!signed.includes('host')) throw malformed("'Host' must be a 'SignedHeader' in the AWS Authorization.");

  if (service === 's3' && req.headers['x-amz-content-sha256'] === undefined) {
    throw new Reject(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  const headers = {};
  for (const h of signed) {
    const v = headerValue(req, h);
    if (v !== undefined) headers[h] = v;
  }
  const unsignable = new Set();
  if (service === 's3') {
    // S3's payload hash is the header's value, signed or not
    if (req.headers['x-amz-content-sha256'] !== undefined && !signed.includes('x-amz-content-sha256')) {
      headers['x-amz-content-sha256'] = req.headers['x-amz-content-sha256'];
      unsignable.add('x-amz-content-sha256');
    }
  }
  const { rawPath, rawQuery } = splitUrl(req.url);
  const where = signerPath(rawPath, ctx.pathStyle(service));
  const { signer, seen } = signerFor(service, cred.region, ctx, where.uriEscapePath);
  let signedRequest;
  try {
    signedRequest = await signer.sign({
      method: req.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: where.path,
      query: parseQuery(rawQuery),
      headers,
      body,
    }, {
      signingDate: date,
      signingRegion: cred.region,
      signingService: service,
      signableHeaders: new Set(signed),
      unsignableHeaders: unsignable,
    });
  } catch (err) {
    throw malformed(`cannot sign the request again: ${err && err.message ? err.message : err}`);
  }
  const expected = /Signature=([0-9a-f]+)/.exec(signedRequest.headers.authorization)[1];
  if (!sameSignature(expected, fields.Signature)) throw mismatch(service, cred.accessKeyId, seen);
  if (service === 's3') {
    checkContentSha256(req, body, { required: true });
  } else {
    // other services hash the body themselves: a signed x-amz-content-sha256 must be the body's
    const claimed = req.headers['x-amz-content-sha256'];
    if (claimed !== undefined && signed.includes('x-amz-content-sha256') && claimed !== 'UNSIGNED-PAYLOAD' &&
        claimed !== crypto.createHash('sha256').update(body).digest('hex')) {
      throw mismatch(service, cred.accessKeyId, seen, 'x-amz-content-sha256 is not the SHA-256 of the body');
    }
  }
  return service;
}

async function verifyPresigned(req, body, query, ctx) {
  let service = guessService(req);
  const cred = parseCredential(query['X-Amz-Credential']);
  const kind = service; // error codes follow the service addressed, signing the scope's
  if (cred) service = cred.service;
  const malformed = (msg) => new Reject(400, kind === 's3' ? 'AuthorizationQueryParametersError' : 'IncompleteSignature', msg);
  for (const k of ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature']) {
    if (typeof query[k] !== 'string') {
      throw malformed(`Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters (missing or repeated: ${k}).`);
    }
  }
  if (query['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256') throw malformed(`Unsupported X-Amz-Algorithm: ${query['X-Amz-Algorithm']}`);
  if (!cred) throw malformed('Malformed X-Amz-Credential.');
  checkAccessKey(kind, cred.accessKeyId, ctx);
  checkScope(req, cred, ctx, true);
  const now = ctx.now;
  const date = parseAmzDate(query['X-Amz-Date']);
  if (!date) throw malformed('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'".');
  const expires = Number(query['X-Amz-Expires']);
  if (!/^\d+$/.test(query['X-Amz-Expires']) || expires > 604800) {
    throw malformed('X-Amz-Expires must be a whole number of seconds, at most 604800 (seven days).');
  }
  if (date.getTime() - now > MAX_SKEW_MS) {
    throw new Reject(403, 'AccessDenied', 'Request is not valid yet', { 'X-Amz-Date': query['X-Amz-Date'] });
  }
  if (now > date.getTime() + expires * 1000) {
    const expiresAt = new Date(date.getTime() + expires * 1000).toISOString();
    if (kind === 's3') {
      throw new Reject(403, 'AccessDenied', 'Request has expired', { 'X-Amz-Expires': expires, Expires: expiresAt, ServerTime: new Date(now).toISOString() });
    }
    throw new Reject(403, 'SignatureDoesNotMatch', `Signature expired: ${query['X-Amz-Date']} is now earlier than ${expiresAt}.`);
  }
  const signed = query['X-Amz-SignedHeaders'].split(';').map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (!signed.includes('host')) throw malformed("'Host' must be a signed header.");
  const headers = {};
  for (const h of signed) {
    const v = headerValue(req, h);
    if (v !== undefined) headers[h] = v;
  }
  const unsignable = new Set();
  if (service === 's3' && !signed.includes('x-amz-content-sha256')) {
    // a presigned S3 request's payload is UNSIGNED-PAYLOAD
    headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    unsignable.add('x-amz-content-sha256');
  }
  // the signer adds the authentication parameters back itself
  const rest = {};
  for (const [k, v] of Object.entries(query)) {
    if (!['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token'].includes(k)) {
      rest[k] = v;
    }
  }
  if (query['X-Amz-Security-Token'] !== undefined) rest['X-Amz-Security-Token'] = query['X-Amz-Security-Token'];
  const { rawPath } = splitUrl(req.url);
  const where = signerPath(rawPath, ctx.pathStyle(service));
  const { signer, seen } = signerFor(service, cred.region, ctx, where.uriEscapePath);
  let presigned;
  try {
    presigned = await signer.presign({
      method: req.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: where.path,
      query: rest,
      headers,
      body: service === 's3' ? undefined : body,
    }, {
      signingDate: date,
      expiresIn: expires,
      signingRegion: cred.region,
      signingService: service,
      signableHeaders: new Set(signed),
      unsignableHeaders: unsignable,
      unhoistableHeaders: new Set(Object.keys(headers)),
    });
  } catch (err) {
    throw malformed(`cannot sign the request again: ${err && err.message ? err.message : err}`);
  }
  if (!sameSignature(presigned.query['X-Amz-Signature'], query['X-Amz-Signature'])) {
    throw mismatch(service, cred.accessKeyId, seen);
  }
  if (service === 's3') checkContentSha256(req, body, { required: false });
  return service;
}

// Checks a request's signature; resolves to its service ('sqs', 's3', ...) or rejects with a Reject.
// req: {method, url, headers (lower-case names), rawHeaders}; body: a Buffer. Options: now (ms),
// accessKeyId, secretAccessKey, region (null = any), expectService(req) (null = any),
// pathStyle(service) -> 's3' | 'double' | 'single'.
async function verify(req, body, options = {}) {
  const ctx = {
    now: Date.now(),
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    region: REGION,
    expectService: requestService,
    pathStyle: (service) => (service === 's3' ? 's3' : 'double'),
    ...options,
  };
  const auth = req.headers.authorization;
  const { rawQuery } = splitUrl(req.url);
  const query = parseQuery(rawQuery);
  if (auth) return verifyHeaderAuth(req, body, String(auth), ctx);
  if (query['X-Amz-Signature'] !== undefined || query['X-Amz-Credential'] !== undefined || query['X-Amz-Algorithm'] !== undefined) {
    return verifyPresigned(req, body, query, ctx);
  }
  if (guessService(req) === 'sqs') {
    throw new Reject(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
  }
  throw new Reject(403, 'AccessDenied', 'Access Denied');
}

// ---------------------------------------------------------------------------------------------------
// the server

function isLoopback(addr) {
  return typeof addr === 'string' && (addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.'));
}

function json(res, status, obj) {
  const body = JSON.stringify(obj) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function admin(req, res, body) {
  const path = req.url.split('?')[0];
  if (!isLoopback(req.socket.remoteAddress)) {
    res.writeHead(403);
    res.end();
    return;
  }
  if (path === '/__stats') {
    if (req.method === 'GET') return json(res, 200, stats);
    if (req.method === 'DELETE' || req.method === 'POST') { resetStats(); return json(res, 200, stats); }
  } else if (path === '/__faults') {
    if (req.method === 'GET') return json(res, 200, faults);
    if (req.method === 'DELETE') { faults = []; return json(res, 200, faults); }
    if (req.method === 'POST' || req.method === 'PUT') {
      try {
        addFaults(JSON.parse(body.toString('utf8') || 'null'));
      } catch (err) {
        return json(res, 400, { error: String(err && err.message ? err.message : err) });
      }
      return json(res, 200, faults);
    }
  } else if (path === '/__delay') {
    if (req.method === 'POST' || req.method === 'PUT') {
      let d;
      try {
        d = Number(JSON.parse(body.toString('utf8') || 'null').delay_ms);
      } catch (err) {
        d = NaN;
      }
      if (!(d >= 0)) return json(res, 400, { error: 'need {"delay_ms": N} with N >= 0' });
      delayMs = d;
    }
    if (['GET', 'POST', 'PUT'].includes(req.method)) return json(res, 200, { delay_ms: delayMs });
  }
  return json(res, 404, { error: `no admin endpoint ${req.method} ${path}` });
}

function forward(req, res, body, upstream, rule) {
  const headers = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const value = req.rawHeaders[i + 1];
    const lname = name.toLowerCase();
    if (HOP_BY_HOP.has(lname) || lname === 'content-length') continue;
    const prev = Object.keys(headers).find((k) => k.toLowerCase() === lname);
    if (prev !== undefined) headers[prev] = [].concat(headers[prev], value);
    else headers[name] = value;
  }
  if (body.length > 0 || !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(req.method)) {
    headers['Content-Length'] = String(body.length);
  }
  const up = http.request({
    host: '127.0.0.1',
    port: upstream,
    method: req.method,
    path: req.url,
    headers,
    agent: upstreamAgent,
  }, (ures) => {
    if (rule && rule.drop && rule.when === 'after') {
      ures.resume();
      ures.on('end', () => req.socket.destroy());
      return;
    }
    const out = {};
    for (let i = 0; i < ures.rawHeaders.length; i += 2) {
      const name = ures.rawHeaders[i];
      const lname = name.toLowerCase();
      if (HOP_BY_HOP.has(lname)) continue;
      const prev = Object.keys(out).find((k) => k.toLowerCase() === lname);
      if (prev !== undefined) out[prev] = [].concat(out[prev], ures.rawHeaders[i + 1]);
      else out[name] = ures.rawHeaders[i + 1];
    }
    res.writeHead(ures.statusCode, ures.statusMessage, out);
    ures.pipe(res);
  });
  up.on('error', (err) => {
    process.stderr.write(`sigproxy: upstream ${req.method} ${req.url}: ${err.message}\n`);
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`emulator unreachable: ${err.message}\n`);
    } else {
      res.destroy();
    }
  });
  // a client that goes away (a long poll given up) takes its upstream request with it
  res.on('close', () => { if (!res.writableFinished) up.destroy(); });
  stats.forwarded++;
  up.end(body);
}

let upstreamAgent;

// The latency every request gets before it is checked and forwarded (an AWS round trip from
// an agent is 10-30 ms; loopback is ~0): SIGPROXY_DELAY_MS at start, /__delay at run time.
let delayMs = Number(process.env.SIGPROXY_DELAY_MS || 0);

function handle(req, res, body, upstream) {
  const path = req.url.split('?')[0];
  if (path === '/__stats' || path === '/__faults' || path === '/__delay') return admin(req, res, body);
  if (delayMs > 0) {
    setTimeout(() => handleSigned(req, res, body, upstream), delayMs);
    return undefined;
  }
  return handleSigned(req, res, body, upstream);
}

function handleSigned(req, res, body, upstream) {
  stats.total++;
  const guessed = guessService(req); // the answer's format and the counters follow the service addressed
  const what = label(req, guessed, body);
  if (what.kind === 'sqs') bump(stats.sqs, what.op);
  else bump(stats.s3, what.op);
  const text = what.kind === 'sqs' ? `sqs:${what.op}` : `s3:${what.op} ${what.path}`;
  verify(req, body).then(() => {
    const service = guessed;
    const rule = faults.length ? takeFault(text) : null;
    if (!rule) return forward(req, res, body, upstream, null);
    stats.faults++;
    process.stderr.write(`sigproxy: fault ${JSON.stringify(rule)} on ${text}\n`);
    if (rule.drop && rule.when !== 'after') { req.socket.destroy(); return undefined; }
    if (rule.drop) return forward(req, res, body, upstream, rule);
    if (rule.delay_ms !== undefined) {
      setTimeout(() => forward(req, res, body, upstream, null), rule.delay_ms);
      return undefined;
    }
    const defaults = {
      400: ['ThrottlingException', 'Rate exceeded'],
      403: ['AccessDenied', 'Access Denied'],
      429: ['ThrottlingException', 'Rate exceeded'],
      500: [service === 's3' ? 'InternalError' : 'InternalFailure', 'We encountered an internal error. Please try again.'],
      503: [service === 's3' ? 'SlowDown' : 'ServiceUnavailable', service === 's3' ? 'Please reduce your request rate.' : 'Service is unavailable. Please try again.'],
    }[rule.status] || ['InternalError', 'injected fault'];
    sendError(req, res, service, rule.status, rule.code || defaults[0], rule.message || defaults[1]);
    return undefined;
  }).catch((err) => {
    if (!(err instanceof Reject)) {
      process.stderr.write(`sigproxy: ${err && err.stack ? err.stack : err}\n`);
      err = new Reject(500, 'InternalError', `proxy error: ${err && err.message ? err.message : err}`);
    }
    bump(stats.rejected, err.code);
    const service = guessed;
    const extra = service === 'sqs'
      ? (err.extra.CanonicalRequest !== undefined ? { CanonicalRequest: err.extra.CanonicalRequest, StringToSign: err.extra.StringToSign } : {})
      : err.extra;
    process.stderr.write(`sigproxy: ${err.status} ${err.code} ${req.method} ${req.url}: ${err.message}` +
      (err.extra.CanonicalRequest ? `\n  expected canonical request:\n${err.extra.CanonicalRequest.replace(/^/gm, '    ')}` : '') + '\n');
    sendError(req, res, service, err.status, err.code, err.message, extra);
  });
  return undefined;
}

async function main() {
  const opts = args(process.argv.slice(2));
  const port = opts.port;
  const upstream = opts.upstreamFile ? await waitUpstream(opts.upstreamFile) : opts.upstream;
  if (process.env.SIGPROXY_FAULTS) addFaults(JSON.parse(process.env.SIGPROXY_FAULTS));
  upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c) => {
      if (tooBig) return;
      size += c.length;
      if (size > MAX_BODY) {
        tooBig = true;
        sendError(req, res, guessService(req), 413, 'EntityTooLarge', `The proxy buffers at most ${MAX_BODY} bytes.`);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!tooBig) handle(req, res, Buffer.concat(chunks, size), upstream);
    });
    req.on('error', () => res.destroy());
  });
  server.keepAliveTimeout = 30000;
  server.headersTimeout = 35000;
  server.requestTimeout = 0; // long polls and big uploads
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.listen({ host: '127.0.0.1', port }, () => {
    process.stdout.write(`listening ${server.address().port}\n`);
  });
  let closing = false;
  const stop = (sig) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`sigproxy: ${sig}, closing\n`);
    server.close(() => process.exit(0));
    if (server.closeAllConnections) server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`sigproxy: ${err && err.message ? err.message : err}\n`);
    process.exit(1);
  });
} else {
  module.exports = { verify, Reject };
}
