import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type Registry, startRegistry, tempDir } from './_servers.js';

// Every image source kind with a missing, an unreadable and a garbage input, fetched by the
// built library in a child process inside try/catch, as a vendor's build script does: the
// process must survive (no "Unhandled 'error' event") and get a typed error naming the input.
// "Unreadable" runs the child as nobody (root reads everything) with a 0000 file.
const DIST = resolve(import.meta.dirname, '../../../dist/packaging/index.js');
const NOBODY = 65534;
let dir: string;
let registry: Registry;
let auth: Registry;
let garbage: http.Server;
let garbagePort: number;

const SCRIPT = `
const { fetchImage, openBlobStore } = await import(process.argv[1]);
const source = JSON.parse(process.argv[2]);
const store = await openBlobStore({ dir: process.argv[3] });
try {
  await fetchImage(source, { store });
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, hint: e.hint }));
}
`;

interface Child {
  status: number | null;
  stderr: string;
  result: { ok?: boolean; name?: string; code?: string; message?: string; hint?: string };
}

/** Asynchronous: the garbage server runs in this process and must keep answering. */
function fetchInChild(source: unknown, asNobody = false): Promise<Child> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, DIST, JSON.stringify(source), join(dir, 'store')], {
      timeout: 60_000,
      ...(asNobody && process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      done({ status, stderr, result: last ? JSON.parse(last) : {} });
    });
  });
}

/** Whether the child can run as nobody here (the checkout must be readable by others). */
let asNobody = true;

/** The unreadable cases, run as nobody; skipped with a reason where nobody cannot read the build. */
async function unreadable(source: unknown, code: string, mentions: string): Promise<void> {
  if (!asNobody) {
    console.log(`skipping the unreadable ${JSON.stringify(source).slice(0, 40)}… case: user nobody cannot read ${DIST} (root bypasses file modes, so it needs another user)`);
    return;
  }
  expectTyped(await fetchInChild(source, true), code, mentions);
}

beforeAll(async () => {
  if (process.getuid?.() === 0) {
    asNobody = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(DIST)}, require('fs').constants.R_OK)`], { uid: NOBODY, gid: NOBODY }).status === 0;
  }
  dir = await tempDir('srcerr');
  await mkdir(join(dir, 'store'), { recursive: true });
  await chmod(join(dir, 'store'), 0o777);
  registry = await startRegistry();
  auth = await startRegistry({ htpasswd: { user: 'vendor', password: 's3cret-pass' } });
  garbagePort = await freePort();
  garbage = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>not a registry</html>'));
  await new Promise<void>((r) => garbage.listen(garbagePort, '127.0.0.1', r));
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  await auth?.stop();
  await new Promise<void>((r) => (garbage ? garbage.close(() => r()) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

function expectTyped(r: Child, code: string, mentions: string): void {
  expect(r.stderr, 'the process must not crash').not.toMatch(/Unhandled 'error' event|Error: /);
  expect(r.status).toBe(0);
  expect(r.result.ok).toBeUndefined();
  expect(r.result.code).toBe(code);
  expect(r.result.message).toContain(mentions);
  expect(r.result.hint).toBeTruthy();
}

describe('image sources: missing, unreadable and garbage inputs give typed errors, never a crash', () => {
  it('docker-archive', async () => {
    const missing = join(dir, 'missing.tar');
    expectTyped(await fetchInChild({ kind: 'docker-archive', path: missing }), 'ARCHIVE_NOT_FOUND', missing);
    const locked = join(dir, 'locked.tar');
    await writeFile(locked, randomBytes(4096));
    await chmod(locked, 0o000);
    await unreadable({ kind: 'docker-archive', path: locked }, 'ARCHIVE_UNREADABLE', locked);
    const junk = join(dir, 'junk.tar');
    await writeFile(junk, randomBytes(100_000));
    expectTyped(await fetchInChild({ kind: 'docker-archive', path: junk }), 'ARCHIVE_INVALID', junk);
    const folder = join(dir, 'a-folder.tar');
    await mkdir(folder);
    expectTyped(await fetchInChild({ kind: 'docker-archive', path: folder }), 'ARCHIVE_NOT_A_FILE', folder);
  });

  it('oci-layout', async () => {
    const missing = join(dir, 'no-layout');
    expectTyped(await fetchInChild({ kind: 'oci-layout', path: missing }), 'OCI_LAYOUT_NOT_FOUND', missing);
    const locked = join(dir, 'locked-layout');
    await mkdir(locked);
    await writeFile(join(locked, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(locked, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
    await chmod(locked, 0o000);
    await unreadable({ kind: 'oci-layout', path: locked }, 'OCI_LAYOUT_INVALID', locked);
    const junk = join(dir, 'junk-layout');
    await mkdir(junk);
    await writeFile(join(junk, 'oci-layout'), randomBytes(64));
    await writeFile(join(junk, 'index.json'), randomBytes(64));
    expectTyped(await fetchInChild({ kind: 'oci-layout', path: junk }), 'OCI_LAYOUT_INVALID', junk);
    // An index naming a manifest whose blob is gone.
    const hollow = join(dir, 'hollow-layout');
    await mkdir(join(hollow, 'blobs/sha256'), { recursive: true });
    await writeFile(join(hollow, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const digest = `sha256:${'ab'.repeat(32)}`;
    await writeFile(join(hollow, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 10 }] }));
    expectTyped(await fetchInChild({ kind: 'oci-layout', path: hollow }), 'OCI_LAYOUT_BLOB_MISSING', digest);
    const file = join(dir, 'layout-is-a-file');
    await writeFile(file, 'x');
    expectTyped(await fetchInChild({ kind: 'oci-layout', path: file }), 'OCI_LAYOUT_NOT_A_FOLDER', file);
  });

  it('build (files copied from disk)', async () => {
    const build = (source: string) => ({ kind: 'build', build: { layers: [{ files: [{ path: '/usr/local/bin/app', source }] }] } });
    const missing = join(dir, 'no-such-binary');
    expectTyped(await fetchInChild(build(missing)), 'FILE_NOT_FOUND', missing);
    const locked = join(dir, 'locked-binary');
    await writeFile(locked, randomBytes(4096));
    await chmod(locked, 0o000);
    await unreadable(build(locked), 'PERMISSION_DENIED', locked);
    // Garbage for a file source: a folder, and a FIFO (reading it would wait forever).
    const folder = join(dir, 'binary-folder');
    await mkdir(folder);
    const f = await fetchInChild(build(folder));
    expectTyped(f, 'VALIDATION_FAILED', 'is a folder');
    const fifo = join(dir, 'binary-fifo');
    spawnSync('mkfifo', [fifo]);
    expectTyped(await fetchInChild(build(fifo)), 'VALIDATION_FAILED', 'not a regular file');
  });

  it('registry', async () => {
    expectTyped(await fetchInChild({ kind: 'registry', reference: `${registry.host}/nothing/here:1.0`, plainHttp: true }), 'REGISTRY_NOT_FOUND', 'nothing/here');
    const denied = await fetchInChild({ kind: 'registry', reference: `${auth.host}/vendor/app:1.0`, plainHttp: true });
    expect(denied.status).toBe(0);
    expect(denied.result.code).toMatch(/UNAUTHORIZED|AUTH/);
    const junk = await fetchInChild({ kind: 'registry', reference: `127.0.0.1:${garbagePort}/vendor/app:1.0`, plainHttp: true });
    expect(junk.status).toBe(0);
    expect(junk.stderr).not.toMatch(/Unhandled/);
    expect(junk.result.code).toBeTruthy();
    expect(junk.result.name).toBe('RegistryError');
  });
});
