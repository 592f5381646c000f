/**
 * The SaltAPI conformance suite: one set of behaviours the SDK's client relies on, run against
 * the real salt-api (rest_cherrypy) and against the MetalK8s emulator, so that the emulator
 * cannot drift from Salt's real protocol.
 *
 * Both servers must serve the orchestrates in test/fixtures/cluster/salt/file_roots, have no
 * minion matching `no-such-minion-*`, and authenticate with MetalK8s' `kubernetes_rbac` against
 * a real kube-apiserver (metalk8s-reference.md §3.4, §8).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SaltApiClient, type SaltEvent } from '../../../src/cluster/index.js';
import { AbortError, ClusterError } from '../../../src/errors.js';

/** A running SaltAPI server under test. */
export interface SaltApiTarget {
  readonly url: string;
  readonly username: string;
  readonly token: string;
  /** Id of the master: runner results are keyed by it. */
  readonly masterId: string;
  /** A user that external_auth limits like MetalK8s' storage-operator (volume functions, @jobs). */
  readonly limited: { readonly username: string; readonly token: string };
  /** A user with a valid Kubernetes token who is not a node-admin and has no ACL entry. */
  readonly unprivileged: { readonly username: string; readonly token: string };
  /** Makes every issued SaltAPI token invalid (what a salt-api restart does). */
  revokeTokens(): Promise<void>;
  stop(): Promise<void>;
}

/** Real salt-master answers, recorded from the same SLS files (test/fixtures/cluster/salt/recorded). */
const recorded = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../fixtures/cluster/salt/recorded/print-job.json', import.meta.url)), 'utf8'),
) as Record<string, Record<string, { Result: unknown }>>;

/**
 * A job result with what differs from run to run or server to server left out: times, jids,
 * the master id and the user name.
 */
function normalized(value: unknown, masterId: string, user: string): unknown {
  if (Array.isArray(value)) return value.map((v) => normalized(v, masterId, user));
  if (typeof value === 'string') return value === user ? '<user>' : value;
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (['start_time', 'duration', '__jid__', '_stamp', 'jid'].includes(k)) continue;
    out[k === masterId ? '<master>' : k] = normalized(v, masterId, user);
  }
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

export function describeSaltApiConformance(name: string, start: () => Promise<SaltApiTarget>): void {
  describe(`SaltAPI conformance: ${name}`, () => {
    let target: SaltApiTarget;
    let salt: SaltApiClient;

    beforeAll(async () => {
      target = await start();
      salt = new SaltApiClient({ url: target.url, username: target.username, token: target.token });
    }, 180_000);

    afterAll(async () => {
      await target?.stop();
    }, 60_000);

    it('logs in with eauth kubernetes_rbac and gets a token for that user', async () => {
      const session = await salt.login();
      expect(session.token).toMatch(/^[0-9a-f]{20,}$/);
      expect(session.user).toBe(target.username);
      expect(session.eauth).toBe('kubernetes_rbac');
      expect(session.expire * 1000).toBeGreaterThan(Date.now());
      expect(session.perms).toContain('@runner');
    });

    /** A raw login, to see the answer's exact shape. */
    const rawLogin = async (user: { username: string; token: string }) => {
      const res = await fetch(`${target.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ eauth: 'kubernetes_rbac', ...user }),
      });
      return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
    };

    it('gives a node-admin (allowed * on nodes) every right, sorted as Salt sorts them', async () => {
      const session = await salt.login();
      expect(session.perms).toEqual(['@jobs', '@runner', '@wheel', { '*': ['.*'] }]);
    });

    it('logs in a user who is not a node-admin with empty perms, then refuses each call with an HTML 401', async () => {
      const login = await rawLogin(target.unprivileged);
      expect(login.status).toBe(200);
      const first = (JSON.parse(login.text) as { return: { perms: unknown; user: string }[] }).return[0];
      expect(first?.user).toBe(target.unprivileged.username);
      expect(first?.perms).toEqual({});
      const client = new SaltApiClient({ url: target.url, ...target.unprivileged });
      expect((await client.login()).perms).toEqual([]);
      for (const call of [() => client.runner({ fun: 'test.arg' }), () => client.local({ tgt: '*', fun: 'test.ping' }), () => client.wheel({ fun: 'key.list_all' })]) {
        const err = await rejection(call());
        expect((err as ClusterError).code).toBe('SALT_FORBIDDEN');
        expect((err as ClusterError).status).toBe(401);
      }
      const jobErr = await rejection(client.lookupJob('20200101000000000000'));
      expect((jobErr as ClusterError).code).toBe('SALT_FORBIDDEN');
      const token = (first as unknown as { token: string }).token;
      const res = await fetch(`${target.url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-auth-token': token },
        body: JSON.stringify([{ client: 'runner', fun: 'test.arg' }]),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain(`Authentication failure of type "token" occurred for user ${target.unprivileged.username}.`);
    });

    it('refuses at login a token that does not authenticate, or that belongs to another user, with an HTML 401', async () => {
      for (const creds of [
        { username: target.username, token: 'not-a-kubernetes-token' },
        { username: target.unprivileged.username, token: target.token },
      ]) {
        const login = await rawLogin(creds);
        expect(login.status).toBe(401);
        expect(login.type).toMatch(/^text\/html/);
        expect(login.text).toContain('Could not authenticate using provided credentials');
      }
    });

    it('enforces ACL entries with kwargs: the storage-operator may run state.sls only with mods=metalk8s.volumes…', async () => {
      const limited = new SaltApiClient({ url: target.url, ...target.limited });
      expect((await limited.login()).perms).toEqual([
        '@jobs',
        { '*': ['metalk8s_volumes.device_info', 'metalk8s_volumes.device_name', { 'state.sls': { kwargs: { mods: 'metalk8s\\.volumes.*' } } }] },
      ]);
      // As storage-operator calls it (metalk8s-reference.md §4.4): allowed, no minion answers.
      const tgt = 'no-such-minion-volumes';
      expect(await limited.local({ tgt, fun: 'state.sls', kwarg: { mods: 'metalk8s.volumes', saltenv: 'metalk8s-129.0.0', pillar: { volume: 'v1' } } })).toEqual({});
      expect(await limited.local({ tgt, fun: 'state.sls', kwarg: { mods: 'metalk8s.volumes.unprepared' } })).toEqual({});
      expect(await limited.local({ tgt, fun: 'metalk8s_volumes.device_info', arg: ['v1'] })).toEqual({});
      for (const call of [
        { fun: 'state.sls', kwarg: { mods: 'metalk8s.roles.etcd' } },
        { fun: 'state.sls', arg: ['metalk8s.volumes'] },
        { fun: 'test.ping' },
        { fun: 'cmd.run_all', arg: ['lsblk'] },
      ]) {
        const err = await rejection(limited.local({ tgt, ...call }));
        expect((err as ClusterError).code, JSON.stringify(call)).toBe('SALT_FORBIDDEN');
      }
    });

    it('answers jobs.list_jobs with the jobs of the job cache', async () => {
      const job = await salt.runnerAsync({ fun: 'test.arg', arg: ['listed'] });
      await salt.waitForJob(job.jid, { pollIntervalMs: 200, timeoutMs: 60_000 });
      const listed = (await salt.runner({ fun: 'jobs.list_jobs' })) as Record<string, Record<string, unknown>>;
      expect(listed[job.jid]).toMatchObject({ Function: 'runner.test.arg', User: target.username });
      expect(listed[job.jid]).not.toHaveProperty('Result');
    });

    it("keeps a runner job's arguments in its print_job return (fun_args), not in jobs.list_jobs", async () => {
      const job = await salt.runnerAsync({ fun: 'test.arg', arg: ['metalk8s.orchestrate.deploy_node'], kwarg: { pillar: { orchestrate: { node_name: 'node-9' } } } });
      await salt.waitForJob(job.jid, { pollIntervalMs: 200, timeoutMs: 60_000 });
      const listed = (await salt.runner({ fun: 'jobs.list_jobs' })) as Record<string, { Arguments?: unknown[] }>;
      expect(listed[job.jid]?.Arguments).toEqual([]);
      const printed = await salt.printJob(job.jid);
      const ret = Object.values(printed.result)[0] as { return?: { fun_args?: unknown[] } } | undefined;
      expect(ret?.return?.fun_args).toEqual(['metalk8s.orchestrate.deploy_node', { pillar: { orchestrate: { node_name: 'node-9' } } }]);
    });

    it('refuses a wrong token with SALT_AUTH_FAILED, without leaking it', async () => {
      const secret = 'not-the-right-token-0123456789';
      const bad = new SaltApiClient({ url: target.url, username: target.username, token: secret });
      const err = await rejection(bad.runner({ fun: 'test.arg' }));
      expect(err).toBeInstanceOf(ClusterError);
      expect((err as ClusterError).code).toBe('SALT_AUTH_FAILED');
      expect((err as ClusterError).status).toBe(401);
      expect(String((err as Error).message)).not.toContain(secret);
    });

    it('refuses a token that belongs to another user', async () => {
      const other = new SaltApiClient({ url: target.url, username: 'oidc:someone@example.com', token: target.token });
      const err = await rejection(other.login());
      expect((err as ClusterError).code).toBe('SALT_AUTH_FAILED');
    });

    it('gives a restricted user only what external_auth lists, and refuses the rest', async () => {
      const limited = new SaltApiClient({ url: target.url, ...target.limited });
      const session = await limited.login();
      expect(session.user).toBe(target.limited.username);
      expect(session.perms).toContain('@jobs');
      expect(session.perms).not.toContain('@runner');
      const err = await rejection(limited.runner({ fun: 'test.arg' }));
      expect((err as ClusterError).code).toBe('SALT_FORBIDDEN');
      expect((err as ClusterError).status).toBe(401);
      const jobErr = await rejection(limited.lookupJob('20200101000000000000'));
      expect((jobErr as ClusterError).code).toBe('SALT_JOB_UNKNOWN');
    });

    it('runs a runner function and returns its result', async () => {
      const ret = await salt.runner({ fun: 'test.arg', arg: [1, 'two'], kwarg: { three: 3 } });
      expect(ret).toMatchObject({ args: [1, 'two'], kwargs: { three: 3 } });
    });

    it('runs a wheel function', async () => {
      const ret = await salt.wheel({ fun: 'key.list_all' });
      expect(ret.success).toBe(true);
      expect(ret.return).toMatchObject({ minions: expect.any(Array), minions_pre: expect.any(Array) });
      expect(ret.jid).toMatch(/^\d{20}$/);
    });

    it('deletes a minion key that is not there without error (wheel key.delete, match as a keyword)', async () => {
      const ret = await salt.wheel({ fun: 'key.delete', kwarg: { match: 'no-such-minion' } });
      expect(ret).toMatchObject({ success: true, return: {} });
    });

    it('returns no answer for a local call that matches no minion, and refuses to start an async one', async () => {
      expect(await salt.local({ tgt: 'no-such-minion-*', fun: 'test.ping' })).toEqual({});
      const err = await rejection(salt.localAsync({ tgt: 'no-such-minion-*', fun: 'test.ping' }));
      expect((err as ClusterError).code).toBe('SALT_NO_MINIONS');
    });

    it('starts a runner job asynchronously and follows it with jobs.print_job and /jobs/<jid>', async () => {
      const job = await salt.runnerAsync({ fun: 'test.arg', arg: ['async'] });
      expect(job.jid).toMatch(/^\d{20}$/);
      expect(job.tag).toBe(`salt/run/${job.jid}`);
      const viaPrint = await salt.waitForJob(job.jid, { pollIntervalMs: 200, timeoutMs: 60_000 });
      expect(viaPrint.done).toBe(true);
      expect(viaPrint.function).toBe('runner.test.arg');
      expect(JSON.stringify(viaPrint.result)).toContain('"async"');
      const viaJobs = await salt.waitForJob(job.jid, { via: 'jobs', pollIntervalMs: 200, timeoutMs: 60_000 });
      expect(viaJobs.function).toBe('runner.test.arg');
      expect(Object.keys(viaJobs.result)).toEqual(Object.keys(viaPrint.result));
    });

    it('reports an unknown job as SALT_JOB_UNKNOWN', async () => {
      for (const read of [salt.printJob.bind(salt), salt.lookupJob.bind(salt)]) {
        const err = await rejection(read('20200101000000000000'));
        expect((err as ClusterError).code).toBe('SALT_JOB_UNKNOWN');
      }
    });

    it('runs a passing orchestrate and lists its steps in order', async () => {
      const result = await salt.orchestrate('sdk_conformance.passing', { pollIntervalMs: 300, timeoutMs: 120_000 });
      expect(result.success).toBe(true);
      expect(result.failure).toBeUndefined();
      expect(result.runs).toHaveLength(1);
      expect(result.runs[0]?.target).toBe(target.masterId);
      expect(result.runs[0]?.steps.map((s) => [s.id, s.result])).toEqual([
        ['First step', true],
        ['Second step', true],
      ]);
    });

    it('reads a failed orchestrate down to the step that broke', async () => {
      const result = await salt.orchestrate('sdk_conformance.failing', {
        pollIntervalMs: 300,
        timeoutMs: 120_000,
        throwOnFailure: false,
      });
      expect(result.success).toBe(false);
      expect(result.failure?.step.id).toBe('Break on purpose');
      expect(result.failure?.step.comment).toBe('broken on purpose by the conformance suite');
      expect(result.runs[0]?.steps.map((s) => s.id)).toEqual(['Prepare things', 'Break on purpose', 'Finish things']);
      expect(result.runs[0]?.steps[2]?.comment).toMatch(/^One or more requisite failed/);

      const err = await rejection(salt.orchestrate('sdk_conformance.failing', { pollIntervalMs: 300 }));
      expect((err as ClusterError).code).toBe('SALT_ORCHESTRATE_FAILED');
      expect((err as Error).message).toContain('Break on purpose: broken on purpose by the conformance suite');
    });

    it('reports the reason of a step written as MetalK8s writes its failures (test.fail_without_changes, reason as name)', async () => {
      const result = await salt.orchestrate('sdk_conformance.failing_reason', { pollIntervalMs: 300, timeoutMs: 120_000, throwOnFailure: false });
      expect(result.failure?.step).toMatchObject({
        id: 'Cannot deploy Solution zenko-9.9.9 for environment sdk-env',
        name: 'Version 9.9.9 is not available for Solution zenko',
        comment: 'Failure!',
        key: 'test_|-Cannot deploy Solution zenko-9.9.9 for environment sdk-env_|-Version 9.9.9 is not available for Solution zenko_|-fail_without_changes',
      });
      const err = await rejection(salt.orchestrate('sdk_conformance.failing_reason', { pollIntervalMs: 300 }));
      expect((err as Error).message).toContain('Cannot deploy Solution zenko-9.9.9 for environment sdk-env: Version 9.9.9 is not available for Solution zenko');
      expect((err as Error).message).not.toContain('Failure!');
    });

    it('reads a nested orchestrate (salt.runner, then salt.state) down to the inner reason', async () => {
      const result = await salt.orchestrate('sdk_conformance.nested', { pollIntervalMs: 300, timeoutMs: 120_000, throwOnFailure: false });
      const [outer, after] = result.runs[0]?.steps ?? [];
      expect(outer).toMatchObject({ key: 'salt_|-Run the inner orchestrate_|-state.orchestrate_|-runner', result: false, comment: "Runner function 'state.orchestrate' failed." });
      const inner = (outer?.changes as { return?: { data?: Record<string, unknown>; outputter?: string; retcode?: number } } | undefined)?.return;
      expect(inner?.outputter).toBe('highstate');
      expect(inner?.retcode).toBe(1);
      expect(Object.keys(inner?.data ?? {})).toEqual([target.masterId]);
      expect(after).toMatchObject({ key: 'salt_|-Apply a state on a minion_|-Apply a state on a minion_|-state', comment: 'One or more requisite failed: sdk_conformance.nested.Run the inner orchestrate' });
      expect(result.failure?.step.id).toBe('Run the inner orchestrate');
      expect(result.failure?.cause?.step).toMatchObject({ name: 'Version 9.9.9 is not available for Solution zenko', comment: 'Failure!' });
      const err = await rejection(salt.orchestrate('sdk_conformance.nested', { pollIntervalMs: 300 }));
      expect((err as Error).message).toContain(
        "Run the inner orchestrate: Runner function 'state.orchestrate' failed. <- Cannot deploy Solution zenko-9.9.9 for environment sdk-env: Version 9.9.9 is not available for Solution zenko",
      );
      const noMinion = await salt.orchestrate('sdk_conformance.nested_minion', { pollIntervalMs: 300, timeoutMs: 120_000, throwOnFailure: false });
      expect(noMinion.failure?.step).toMatchObject({ id: 'Apply a state on a minion', comment: 'No minions returned', changes: {} });
    });

    it('answers the failing and nested orchestrates exactly as the real salt-master did (times, jids, ids aside)', async () => {
      for (const [name, mods] of [
        ['failing_reason', 'sdk_conformance.failing_reason'],
        ['nested', 'sdk_conformance.nested'],
        ['nested_minion', 'sdk_conformance.nested_minion'],
      ] as const) {
        const result = await salt.orchestrate(mods, { pollIntervalMs: 300, timeoutMs: 120_000, throwOnFailure: false });
        const real = Object.values(recorded[name] ?? {})[0]?.Result;
        expect(normalized(result.raw, target.masterId, target.username), mods).toEqual(
          normalized(real, 'sdk-test-master', 'system:serviceaccount:kube-system:sdk-conformance-node-admin'),
        );
      }
    });

    it('reports an orchestrate that does not exist with Salt\'s own words', async () => {
      const err = await rejection(salt.orchestrate('sdk_conformance.missing', { pollIntervalMs: 300 }));
      expect((err as ClusterError).code).toBe('SALT_ORCHESTRATE_FAILED');
      expect((err as Error).message).toContain("No matching sls found for 'sdk_conformance.missing' in env 'base'");
    });

    it('streams job events from /events', async () => {
      const controller = new AbortController();
      const seen: SaltEvent[] = [];
      const stream = (async () => {
        for await (const ev of salt.events({ signal: controller.signal })) {
          seen.push(ev);
          if (seen.some((e) => e.tag.endsWith('/ret') && e.tag.includes(jid))) break;
        }
      })();
      // Give the stream time to subscribe before the job starts.
      await new Promise((r) => setTimeout(r, 1500));
      const { jid } = await salt.runnerAsync({ fun: 'test.arg', arg: ['evented'] });
      const timer = setTimeout(() => controller.abort(), 30_000);
      await stream;
      clearTimeout(timer);
      const ret = seen.find((e) => e.tag === `salt/run/${jid}/ret`);
      expect(ret, `no salt/run/${jid}/ret among ${seen.map((e) => e.tag).join(', ')}`).toBeDefined();
      expect(ret?.data.success).toBe(true);
      expect(ret?.data.fun).toBe('runner.test.arg');
      expect(seen.some((e) => e.tag === `salt/run/${jid}/new`)).toBe(true);
    });

    it('an orchestrate of master-side states fires only its runner events, no per-state event', async () => {
      const controller = new AbortController();
      const seen: SaltEvent[] = [];
      let jid = '';
      const stream = (async () => {
        for await (const ev of salt.events({ signal: controller.signal })) {
          seen.push(ev);
          if (jid && ev.tag === `salt/run/${jid}/ret`) break;
        }
      })();
      await new Promise((r) => setTimeout(r, 1500));
      ({ jid } = await salt.runnerAsync({ fun: 'state.orchestrate', arg: ['sdk_conformance.passing'] }));
      const timer = setTimeout(() => controller.abort(), 60_000);
      await stream;
      clearTimeout(timer);
      // Step progress cannot come from state events: clients read the steps from the result.
      expect(seen.filter((e) => e.tag.includes(jid)).map((e) => e.tag)).toEqual([`salt/run/${jid}/new`, `salt/run/${jid}/ret`]);
    });

    it('logs in again when the server forgets its token', async () => {
      const client = new SaltApiClient({ url: target.url, username: target.username, token: target.token });
      const first = await client.login();
      await target.revokeTokens();
      const ret = await client.runner({ fun: 'test.arg', arg: ['after-revoke'] });
      expect(ret).toMatchObject({ args: ['after-revoke'] });
      const again = await client.login();
      expect(again.token).not.toBe(first.token);
    });

    it('logs in once more when salt-api forgets its tokens between the new login and the call (a restart after an import)', async () => {
      const seen: string[] = [];
      let logins = 0;
      const client = new SaltApiClient({
        url: target.url,
        username: target.username,
        token: target.token,
        fetch: async (url, init) => {
          const path = new URL(url).pathname;
          const res = await fetch(url, init);
          seen.push(`${init.method} ${path} ${res.status}`);
          if (path === '/login' && ++logins === 2) await target.revokeTokens();
          return res;
        },
      });
      await client.login();
      await target.revokeTokens();
      expect(await client.runner({ fun: 'test.arg', arg: ['after-two-revokes'] })).toMatchObject({ args: ['after-two-revokes'] });
      expect(seen).toEqual(['POST /login 200', 'POST / 401', 'POST /login 200', 'POST / 401', 'POST /login 200', 'POST / 200']);
    });

    it('works through an injected fetch', async () => {
      const seen: string[] = [];
      const client = new SaltApiClient({
        url: target.url,
        username: target.username,
        token: target.token,
        fetch: (url, init) => {
          seen.push(`${init.method} ${new URL(url).pathname}`);
          return fetch(url, init);
        },
      });
      expect(await client.runner({ fun: 'test.arg', arg: ['fetched'] })).toMatchObject({ args: ['fetched'] });
      expect(seen).toEqual(['POST /login', 'POST /']);
    });

    it('reports a server error as SALT_HTTP_ERROR with its status', async () => {
      const err = await rejection(salt.runner({ fun: 'no_such_module.no_such_function' }));
      expect((err as ClusterError).code).toBe('SALT_HTTP_ERROR');
      expect((err as ClusterError).status).toBe(500);
    });

    it('stops at once when its signal is aborted', async () => {
      const controller = new AbortController();
      controller.abort();
      const err = await rejection(salt.runner({ fun: 'test.arg' }, { signal: controller.signal }));
      expect(err).toBeInstanceOf(AbortError);
      const { jid } = await salt.runnerAsync({ fun: 'test.sleep', kwarg: { s_time: 5 } });
      const late = new AbortController();
      setTimeout(() => late.abort(), 300);
      const started = Date.now();
      const waitErr = await rejection(salt.waitForJob(jid, { pollIntervalMs: 60_000, signal: late.signal }));
      expect(waitErr).toBeInstanceOf(AbortError);
      expect(Date.now() - started).toBeLessThan(4000);
    });
  });
}
