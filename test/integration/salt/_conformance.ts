/**
 * The SaltAPI conformance suite: one set of behaviours the SDK's client relies on, run against
 * the real salt-api (rest_cherrypy) and against the MetalK8s emulator, so that the emulator
 * cannot drift from Salt's real protocol.
 *
 * Both servers must serve the orchestrates in test/fixtures/cluster/salt/file_roots and have no
 * minion matching `no-such-minion-*`.
 */
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
  /** Makes every issued SaltAPI token invalid (what a salt-api restart does). */
  revokeTokens(): Promise<void>;
  stop(): Promise<void>;
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
