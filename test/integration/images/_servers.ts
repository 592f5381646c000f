/**
 * Test servers for the images tests: Debian's docker-registry (plain, TLS, basic auth, bearer
 * tokens), a tiny token server (the auth side of the bearer flow, not the component under
 * test), and nginx serving a MetalK8s static registry. All on 127.0.0.1, free ports, temp dirs.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NGINX_TEMP_DIRS, staticRegistryNginxConf } from '../../../src/testing/_nginx.js';

const pexec = promisify(execFile);

/** Runs a command, returns stdout; the error carries stderr. */
export async function run(cmd: string, args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await pexec(cmd, [...args], { cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
}

/** A temp directory readable by nginx workers (which run as nobody). */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `sdk-images-${prefix}-`));
  await chmod(dir, 0o755);
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

async function waitForPort(port: number, proc: ChildProcess, log: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${await log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server did not listen on ${port}:\n${await log()}`);
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const done = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

/** CA + server certificate for 127.0.0.1, and a self-signed token signing certificate. */
export interface TestCerts {
  readonly dir: string;
  readonly caPem: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly tokenCert: string;
  readonly tokenKeyPem: string;
  readonly tokenCertDerB64: string;
}

export async function makeCerts(dir: string): Promise<TestCerts> {
  await mkdir(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=sdk test CA']);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.pem'), '-days', '2', '-extfile', p('ext.cnf')]);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('token.key'), '-out', p('token.pem'), '-days', '2', '-subj', '/CN=sdk test token issuer']);
  const tokenCert = await readFile(p('token.pem'), 'utf8');
  const der = tokenCert.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return {
    dir,
    caPem: await readFile(p('ca.pem'), 'utf8'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    tokenCert: p('token.pem'),
    tokenKeyPem: await readFile(p('token.key'), 'utf8'),
    tokenCertDerB64: der,
  };
}

/** A running docker-registry. */
export interface Registry {
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  /** The registry's storage root (to corrupt blobs on purpose). */
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  readonly htpasswd?: { readonly user: string; readonly password: string } | undefined;
  readonly token?: { readonly realm: string; readonly certs: TestCerts } | undefined;
  readonly tls?: TestCerts | undefined;
}

export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  const dir = await tempDir('registry');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log: { level: warn, accesslog: { disabled: true } }',
    `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
    `http:`,
    `  addr: 127.0.0.1:${port}`,
    `  secret: test-secret-${randomUUID()}`,
  ];
  if (options.tls) lines.push(`  tls: { certificate: ${options.tls.serverCert}, key: ${options.tls.serverKey} }`);
  if (options.htpasswd) {
    const entry = await run('htpasswd', ['-Bbn', options.htpasswd.user, options.htpasswd.password]);
    await writeFile(join(dir, 'htpasswd'), entry.trim() + '\n');
    lines.push('auth:', `  htpasswd: { realm: test, path: ${join(dir, 'htpasswd')} }`);
  }
  if (options.token) {
    lines.push('auth:', '  token:', `    realm: ${options.token.realm}`, '    service: sdk-test-registry', '    issuer: sdk-test-issuer', `    rootcertbundle: ${options.token.certs.tokenCert}`);
  }
  await writeFile(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const logFile = join(dir, 'registry.log');
  const chunks: Buffer[] = [];
  const proc = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (c: Buffer) => chunks.push(c));
  proc.stderr?.on('data', (c: Buffer) => chunks.push(c));
  await waitForPort(port, proc, async () => Buffer.concat(chunks).toString());
  return {
    host: `127.0.0.1:${port}`,
    dataDir: join(dir, 'data'),
    stop: async () => {
      await stopProcess(proc);
      await writeFile(logFile, Buffer.concat(chunks)).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The auth side of the bearer flow: issues RS256 JWTs docker-registry accepts. */
export interface TokenServer {
  readonly realm: string;
  /** Token requests seen (with the scope asked). */
  readonly requests: { scope: string | null; user: string | undefined }[];
  stop(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export async function startTokenServer(certs: TestCerts, users: Record<string, string>): Promise<TokenServer> {
  const requests: { scope: string | null; user: string | undefined }[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const authz = req.headers.authorization;
    let user: string | undefined;
    if (authz?.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(authz.slice(6), 'base64').toString().split(':');
      if (u && users[u] === rest.join(':')) user = u;
      else {
        res.writeHead(401).end('{"details":"bad credentials"}');
        return;
      }
    }
    const scope = url.searchParams.get('scope');
    requests.push({ scope, user });
    const access = [];
    if (scope && user) {
      const [type, name, actions] = scope.split(':');
      access.push({ type, name, actions: (actions ?? '').split(',') });
    }
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certs.tokenCertDerB64] };
    const claims = { iss: 'sdk-test-issuer', sub: user ?? '', aud: url.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(certs.tokenKeyPem);
    const token = `${input}.${b64url(sig)}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    realm: `http://127.0.0.1:${port}/token`,
    requests,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A TCP forwarder to `target` (host:port) that counts the connections clients open through it. */
export interface CountingForwarder {
  readonly host: string;
  /** Connections accepted so far. */
  connections(): number;
  stop(): Promise<void>;
}

export async function startCountingForwarder(target: string): Promise<CountingForwarder> {
  const [targetHost, targetPort] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    count++;
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${port}`,
    connections: () => count,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** nginx serving `<root>/images` as MetalK8s does: common constants + the rendered solution snippet. */
export interface StaticRegistry {
  readonly host: string;
  stop(): Promise<void>;
}

export async function startNginx(renderedSnippet: string, commonSnippet: string): Promise<StaticRegistry> {
  const dir = await tempDir('nginx');
  const port = await freePort();
  await writeFile(join(dir, 'common.inc'), commonSnippet);
  await writeFile(join(dir, 'solution.inc'), renderedSnippet);
  for (const t of NGINX_TEMP_DIRS) await mkdir(join(dir, t), { recursive: true });
  const conf = staticRegistryNginxConf(dir, port, [`${dir}/common.inc`, `${dir}/solution.inc`]);
  await writeFile(join(dir, 'nginx.conf'), conf);
  await run('nginx', ['-t', '-q', '-c', join(dir, 'nginx.conf'), '-p', dir]);
  const proc = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  await waitForPort(port, proc, () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''));
  return {
    host: `127.0.0.1:${port}`,
    stop: async () => {
      await stopProcess(proc);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A faulty HTTP proxy in front of a real server: cuts or refuses chosen requests, records what it saw. */
export interface FaultyProxy {
  readonly host: string;
  /** Requests seen: method, path and Range header. */
  readonly seen: { path: string; range: string | undefined; status: number }[];
  stop(): Promise<void>;
}

export type Fault = (req: http.IncomingMessage, n: number) => 'cut' | 429 | 503 | undefined;

export async function startFaultyProxy(target: string, fault: Fault): Promise<FaultyProxy> {
  const seen: { path: string; range: string | undefined; status: number }[] = [];
  let count = 0;
  const server = http.createServer((req, res) => {
    const n = count++;
    const f = fault(req, n);
    const range = req.headers.range;
    if (f === 429 || f === 503) {
      seen.push({ path: req.url ?? '', range, status: f });
      res.writeHead(f, { 'content-type': 'application/json', 'retry-after': '0' }).end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
      return;
    }
    const up = http.request(`http://${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: target } }, (ur) => {
      seen.push({ path: req.url ?? '', range, status: ur.statusCode ?? 0 });
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (f === 'cut') {
        let sent = 0;
        ur.on('data', (c: Buffer) => {
          sent += c.length;
          if (sent > 64 * 1024) {
            ur.destroy();
            res.socket?.destroy();
          } else res.write(c);
        });
      } else ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${port}`,
    seen,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** tinyproxy on loopback, logging every request (to check traffic went through it). */
export interface Proxy {
  readonly url: string;
  /** The proxy's log so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export async function startTinyproxy(): Promise<Proxy> {
  const dir = await tempDir('proxy');
  const port = await freePort();
  const logFile = join(dir, 'tinyproxy.log');
  await writeFile(logFile, '');
  await chmod(logFile, 0o666);
  await writeFile(
    join(dir, 'tinyproxy.conf'),
    [`Port ${port}`, 'Listen 127.0.0.1', 'Timeout 60', `LogFile "${logFile}"`, 'LogLevel Connect', 'MaxClients 20', 'Allow 127.0.0.1', 'DisableViaHeader Yes', ''].join('\n'),
  );
  const proc = spawn('tinyproxy', ['-d', '-c', join(dir, 'tinyproxy.conf')], { stdio: 'ignore' });
  await waitForPort(port, proc, () => readFile(logFile, 'utf8'));
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => readFile(logFile, 'utf8'),
    stop: async () => {
      await stopProcess(proc);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
