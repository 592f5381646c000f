/**
 * The SaltAPI of the MetalK8s emulator: speaks salt-api's rest_cherrypy protocol (`/login`,
 * `/`, `/jobs/<jid>`, `/events`) as MetalK8s' bootstrap node serves it, with the
 * `kubernetes_rbac` external auth checked by a real TokenReview against the cluster.
 *
 * Its answers are kept identical to the real salt-api's by one conformance suite run against
 * both (test/integration/salt/_conformance.ts). Written by hand: nothing on npm plays a Salt
 * master.
 *
 * This module is the public face and the HTTP server (the routes); the parts live in
 * `_salt-api-auth.ts` (external auth, ACL, sessions), `_salt-api-clients.ts` (runner, wheel and
 * local calls), `_salt-api-master.ts` (minions, job cache, events), `_salt-api-orchestrate.ts`
 * (`state.orchestrate`) and `_salt-api-http.ts` (CherryPy's answers).
 *
 * @module
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { assertAllowed, Sessions } from './_salt-api-auth.js';
import { type EmulatedMinionFunction, type EmulatedWheelFunction, runClient } from './_salt-api-clients.js';
import { HttpError, readBody, send, sendHtmlError } from './_salt-api-http.js';
import { SaltMaster } from './_salt-api-master.js';
import type { OrchestrateHandler } from './_salt-api-orchestrate.js';
import { isRecord } from '../_record.js';

export type { EmulatedMinionFunction, EmulatedWheelFunction } from './_salt-api-clients.js';
export { MinionReturn } from './_salt-api-clients.js';
export type { OrchestrateContext, OrchestrateHandler, StepOptions, StepOutcome } from './_salt-api-orchestrate.js';

/** Options of {@link startSaltApiEmulator}. */
export interface StartSaltApiEmulatorOptions {
  /** Admin access to the cluster, used for TokenReviews and SubjectAccessReviews. */
  readonly kubeConfig: KubeConfig;
  /**
   * Minion id of the bootstrap node; the master's id is `<id>_master`.
   * @default 'bootstrap'
   */
  readonly bootstrapId?: string | undefined;
  /**
   * Directories searched for `state.orchestrate` SLS files (made of `test.*` states).
   * @default []
   */
  readonly fileRoots?: readonly string[] | undefined;
  /**
   * Orchestrates played in code, by SLS name; they take precedence over `fileRoots`. This is
   * where MetalK8s' own orchestrates are emulated.
   * @default {}
   */
  readonly orchestrates?: Readonly<Record<string, OrchestrateHandler>> | undefined;
  /**
   * Minion execution functions played in code, by name (e.g. `metalk8s_solutions.configure_archive`).
   * A thrown error is answered as Salt's `ERROR: <message>` with retcode 1.
   * @default {}
   */
  readonly minionFunctions?: Readonly<Record<string, EmulatedMinionFunction>> | undefined;
  /**
   * Ids of other accepted minions (emulated nodes), besides the bootstrap node.
   * @default []
   */
  readonly minions?: readonly string[] | undefined;
  /**
   * Wheel functions played in code, by name (e.g. `key.delete`); they take precedence over the
   * built-in `key.list_all` and `key.list`.
   * @default {}
   */
  readonly wheelFunctions?: Readonly<Record<string, EmulatedWheelFunction>> | undefined;
  /**
   * Port on 127.0.0.1.
   * @default a free port
   */
  readonly port?: number | undefined;
  /**
   * Serve HTTPS with this certificate and key (PEM), as MetalK8s does with a certificate
   * signed by the cluster CA.
   * @default undefined (plain HTTP)
   */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined;
  /**
   * Lifetime of a SaltAPI token, seconds (Salt's `token_expire`).
   * @default 43200
   */
  readonly tokenExpireSeconds?: number | undefined;
}

/** A running SaltAPI emulator. */
export interface SaltApiEmulator {
  /** `http://127.0.0.1:<port>`, or `https://` with `tls`. */
  readonly url: string;
  /** Id of the master, the key of runner results (`<bootstrap id>_master`). */
  readonly masterId: string;
  /** Ids of the accepted minions, now (the bootstrap first). */
  acceptedMinions(): string[];
  /** Forgets every issued token, as a salt-api restart does after a Solution import. */
  revokeTokens(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the SaltAPI emulator on 127.0.0.1.
 *
 * @example
 * ```ts
 * const salt = await startSaltApiEmulator({ kubeConfig: cp.kubeConfig() });
 * console.log(salt.url);
 * await salt.stop();
 * ```
 */
export async function startSaltApiEmulator(options: StartSaltApiEmulatorOptions): Promise<SaltApiEmulator> {
  const master = new SaltMaster(options.bootstrapId ?? 'bootstrap', options.minions ?? []);
  const sessions = new Sessions(options.kubeConfig, options.tokenExpireSeconds ?? 43_200);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const token = (req.headers['x-auth-token'] as string | undefined) ?? url.searchParams.get('token') ?? undefined;
    if (req.method === 'POST' && url.pathname === '/login') {
      const body = await readBody(req);
      const creds = Array.isArray(body) ? body[0] : body;
      const s = await sessions.login(isRecord(creds) ? creds : {});
      send(res, 200, {
        // Salt answers an empty dict, not an empty list, for a user without any right.
        return: [{ token: s.token, expire: s.expire, start: s.start, user: s.user, eauth: 'kubernetes_rbac', perms: s.perms.length > 0 ? s.perms : {} }],
      });
      return;
    }
    if (req.method === 'POST' && (url.pathname === '/' || url.pathname === '/run')) {
      const session = sessions.sessionOf(token);
      const body = await readBody(req);
      const chunks = (Array.isArray(body) ? body : [body]).filter(isRecord);
      const out: unknown[] = [];
      for (const low of chunks) out.push(await runClient(master, options, low, session));
      send(res, 200, { return: out });
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/jobs/')) {
      const session = sessions.sessionOf(token);
      assertAllowed(session, '@jobs');
      const jid = decodeURIComponent(url.pathname.slice('/jobs/'.length));
      send(res, 200, { info: [{ jid, ...master.describeJob(jid) }], return: [master.returns(master.job(jid))] });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/events') {
      sessions.sessionOf(token ?? undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream;charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write('retry: 400\n\n');
      const listener = (tag: string, data: Record<string, unknown>): void => {
        res.write(`tag: ${tag}\ndata: ${JSON.stringify({ tag, data })}\n\n`);
      };
      const unlisten = master.listen(listener);
      req.on('close', unlisten);
      return;
    }
    throw new HttpError(404, 'Not Found');
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof HttpError ? err.message : 'An unexpected error occurred';
      if (res.headersSent) res.end();
      else if (status === 401) sendHtmlError(res, status, 'Unauthorized', message);
      else send(res, status, { status, return: message });
    });
  };
  const server = options.tls
    ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
    : http.createServer(onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    masterId: master.masterId,
    acceptedMinions: () => [...master.minions],
    async revokeTokens() {
      sessions.clear();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        master.stopEvents();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
