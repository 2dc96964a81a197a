#!/usr/bin/env node
// Proof that the SigV4 proxy accepts what the official AWS SDK signs, and rejects what it must.
//   eval "$(tests/aws/emulators.sh start)"; node tests/aws/sdk_check.js
// Uses AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Prints one summary
// line; exits 1 on any surprise (each one is described on stderr).
'use strict';

// The SDK pinned for Node.js 18 says on Node.js 18 that newer releases will drop it: known, not news.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (w, ...rest) => {
  if (/^NodeDeprecationWarning: The AWS SDK for JavaScript/.test(String(w && w.message ? w.message : w))) return;
  emitWarning(w, ...rest);
};

const http = require('node:http');
const crypto = require('node:crypto');
const {
  SQSClient, CreateQueueCommand, SendMessageCommand, ReceiveMessageCommand, DeleteMessageCommand,
  GetQueueAttributesCommand, ListQueuesCommand,
} = require('@aws-sdk/client-sqs');
const {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, ListObjectsV2Command, HeadObjectCommand,
  CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand,
} = require('@aws-sdk/client-s3');
const { getSignedUrl } = require('@aws-sdk/s3-request-presigner');

const endpoint = process.env.AWS_ENDPOINT_URL;
const region = process.env.AWS_REGION || 'us-east-1';
const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY };
if (!endpoint || !credentials.accessKeyId || !credentials.secretAccessKey) {
  console.error('sdk_check: set AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (emulators.sh start prints them)');
  process.exit(2);
}

const sqsClient = (creds, extra = {}) => new SQSClient({ endpoint, region, credentials: creds, maxAttempts: 1, ...extra });
const s3Client = (creds, extra = {}) => new S3Client({ endpoint, region, credentials: creds, forcePathStyle: true, maxAttempts: 1, ...extra });

const passed = [];
const failed = [];
async function check(name, fn) {
  try {
    await fn();
    passed.push(name);
  } catch (err) {
    failed.push(name);
    console.error(`sdk_check: FAIL ${name}: ${err && err.stack ? err.stack : err}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
// the call must fail with this error name and HTTP status
async function expectError(promise, name, status) {
  let result;
  try {
    result = await promise;
  } catch (err) {
    const got = err.name || err.Code;
    const gotStatus = err.$metadata && err.$metadata.httpStatusCode;
    assert(got === name && (status === undefined || gotStatus === status),
      `want ${name} (${status}), got ${got} (${gotStatus}): ${err.message}`);
    return err;
  }
  throw new Error(`want ${name}, but the call succeeded: ${JSON.stringify(result && result.$metadata)}`);
}

function httpRequest(url, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  const id = `${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
  const sqs = sqsClient(credentials);
  const s3 = s3Client(credentials);
  let queueUrl;
  const bucket = `sdk-check-${id}`;
  const key = 'dir/a b+c~(1)!.txt';
  const content = `hello from sdk_check ${id}\n`;

  // --- SQS through the proxy
  await check('SQS CreateQueue', async () => {
    const r = await sqs.send(new CreateQueueCommand({ QueueName: `sdk-check-${id}`, Attributes: { VisibilityTimeout: '30' } }));
    queueUrl = r.QueueUrl;
    assert(/sdk-check-/.test(queueUrl || ''), `no queue URL: ${queueUrl}`);
  });
  await check('SQS SendMessage', async () => {
    const r = await sqs.send(new SendMessageCommand({
      QueueUrl: queueUrl, MessageBody: '{"run":1,"pars":[1.5,2.5]} é',
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'run' } },
    }));
    assert(r.MessageId, 'no MessageId');
  });
  let receipt;
  await check('SQS ReceiveMessage', async () => {
    const r = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2, MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }));
    assert(r.Messages && r.Messages.length === 1, `want 1 message, got ${JSON.stringify(r.Messages)}`);
    assert(r.Messages[0].Body === '{"run":1,"pars":[1.5,2.5]} é', `body ${r.Messages[0].Body}`);
    assert(r.Messages[0].MessageAttributes.kind.StringValue === 'run', 'message attribute lost');
    receipt = r.Messages[0].ReceiptHandle;
  });
  await check('SQS DeleteMessage', async () => {
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt }));
    const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }));
    assert(a.Attributes.ApproximateNumberOfMessages === '0' && a.Attributes.ApproximateNumberOfMessagesNotVisible === '0',
      `queue not empty: ${JSON.stringify(a.Attributes)}`);
  });

  // --- S3 through the proxy
  await check('S3 CreateBucket', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  await check('S3 PutObject', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: content, ContentType: 'text/plain' }));
  });
  await check('S3 GetObject', async () => {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const got = await r.Body.transformToString();
    assert(got === content, `GetObject returned ${JSON.stringify(got)}`);
  });
  await check('S3 HeadObject', async () => {
    const r = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    assert(r.ContentLength === Buffer.byteLength(content), `ContentLength ${r.ContentLength}`);
  });
  await check('S3 multipart upload', async () => {
    const big = crypto.randomBytes(5 * 1048576 + 17);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'multi/part.bin' }));
    const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'multi/part.bin', UploadId, PartNumber: 1, Body: big.subarray(0, 5 * 1048576) }));
    const p2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'multi/part.bin', UploadId, PartNumber: 2, Body: big.subarray(5 * 1048576) }));
    await s3.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: 'multi/part.bin', UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] },
    }));
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'multi/part.bin' }));
    const got = Buffer.from(await r.Body.transformToByteArray());
    assert(got.equals(big), `multipart object differs (${got.length} bytes, want ${big.length})`);
  });
  await check('S3 ListObjectsV2', async () => {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dir/' }));
    const keys = (r.Contents || []).map((o) => o.Key);
    assert(keys.length === 1 && keys[0] === key, `keys ${JSON.stringify(keys)}`);
  });
  await check('S3 presigned GET', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
    const r = await httpRequest(url);
    assert(r.status === 200 && r.body.toString() === content, `presigned GET: ${r.status} ${r.body}`);
  });
  await check('S3 presigned PUT', async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'presigned.txt' }), { expiresIn: 300 });
    const r = await httpRequest(url, { method: 'PUT', body: 'put by URL' });
    assert(r.status === 200, `presigned PUT: ${r.status} ${r.body}`);
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'presigned.txt' }));
    assert(await g.Body.transformToString() === 'put by URL', 'presigned PUT content');
  });

  // --- what must be rejected
  const wrongSecret = { accessKeyId: credentials.accessKeyId, secretAccessKey: `${credentials.secretAccessKey}x` };
  const wrongKey = { accessKeyId: 'AKIANOTTHEEMULATORS1', secretAccessKey: credentials.secretAccessKey };
  await check('SQS wrong secret -> SignatureDoesNotMatch', async () => {
    await expectError(sqsClient(wrongSecret).send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' })), 'SignatureDoesNotMatch', 403);
  });
  await check('SQS wrong access key -> InvalidClientTokenId', async () => {
    await expectError(sqsClient(wrongKey).send(new ListQueuesCommand({})), 'InvalidClientTokenId', 403);
  });
  await check('S3 wrong secret -> SignatureDoesNotMatch', async () => {
    await expectError(s3Client(wrongSecret).send(new GetObjectCommand({ Bucket: bucket, Key: key })), 'SignatureDoesNotMatch', 403);
    await expectError(s3Client(wrongSecret).send(new PutObjectCommand({ Bucket: bucket, Key: 'no.txt', Body: 'x' })), 'SignatureDoesNotMatch', 403);
  });
  await check('S3 wrong access key -> InvalidAccessKeyId', async () => {
    await expectError(s3Client(wrongKey).send(new ListObjectsV2Command({ Bucket: bucket })), 'InvalidAccessKeyId', 403);
  });
  await check('clock 20 minutes off -> RequestTimeTooSkewed', async () => {
    const skew = { systemClockOffset: -20 * 60 * 1000 };
    await expectError(sqsClient(credentials, skew).send(new ListQueuesCommand({})), 'RequestTimeTooSkewed', 403);
    await expectError(s3Client(credentials, skew).send(new ListObjectsV2Command({ Bucket: bucket })), 'RequestTimeTooSkewed', 403);
    // the SDK corrects its clock from the answer's Date header and succeeds on the retry
    await sqsClient(credentials, { ...skew, maxAttempts: 2 }).send(new ListQueuesCommand({}));
  });
  await check('S3 presigned URL with a wrong secret', async () => {
    const url = await getSignedUrl(s3Client(wrongSecret), new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
    const r = await httpRequest(url);
    assert(r.status === 403 && /<Code>SignatureDoesNotMatch<\/Code>/.test(r.body), `got ${r.status} ${r.body}`);
  });
  await check('S3 expired presigned URL', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }),
      { expiresIn: 60, signingDate: new Date(Date.now() - 120 * 1000) });
    const r = await httpRequest(url);
    assert(r.status === 403 && /<Code>AccessDenied<\/Code>/.test(r.body) && /expired/.test(r.body), `got ${r.status} ${r.body}`);
  });
  await check('S3 presigned URL with a changed key', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
    const r = await httpRequest(url.replace('/dir/', '/dir2/'));
    assert(r.status === 403 && /SignatureDoesNotMatch/.test(r.body), `got ${r.status} ${r.body}`);
  });
  await check('unsigned requests', async () => {
    const u = new URL(endpoint);
    const a = await httpRequest(`${u.origin}/${bucket}/${encodeURIComponent(key)}`);
    assert(a.status === 403 && /<Code>AccessDenied<\/Code>/.test(a.body), `S3 got ${a.status} ${a.body}`);
    const b = await httpRequest(`${u.origin}/`, {
      method: 'POST', body: '{}', headers: { 'X-Amz-Target': 'AmazonSQS.ListQueues', 'Content-Type': 'application/x-amz-json-1.0' },
    });
    assert(b.status === 403 && /MissingAuthenticationToken/.test(b.body), `SQS got ${b.status} ${b.body}`);
  });

  const total = passed.length + failed.length;
  if (failed.length) {
    console.log(`sdk_check: FAILED ${failed.length} of ${total} checks: ${failed.join('; ')}`);
    process.exit(1);
  }
  console.log(`sdk_check: all ${total} checks ok (SQS and S3 through the SigV4 proxy at ${endpoint})`);
}

main().catch((err) => {
  console.log(`sdk_check: FAILED: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
