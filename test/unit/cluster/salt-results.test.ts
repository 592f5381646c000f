import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeFailure, firstFailedStep, orchestrateResult, saltApiFromEnv, stateRuns } from '../../../src/cluster/index.js';
import { ClusterError } from '../../../src/errors.js';

// A deploy-style orchestrate: its salt.state step failed on the bootstrap minion; inside it, the
// root cause is the file state, and the service state only failed because of it.
const nested = {
  bootstrap_master: {
    return: {
      fun: 'runner.state.orchestrate',
      return: {
        data: {
          bootstrap_master: {
            'salt_|-Check pillar_|-Check pillar_|-function': { result: true, comment: 'Function ran successfully.', __run_num__: 0, changes: {} },
            'salt_|-Deploy node_|-Deploy node_|-state': {
              result: false,
              comment: 'Run failed on minions: bootstrap',
              __run_num__: 1,
              changes: {
                out: 'highstate',
                ret: {
                  bootstrap: {
                    'service_|-Start kubelet_|-kubelet_|-running': {
                      result: false,
                      comment: 'One or more requisite failed: metalk8s.kubelet.Write config',
                      __run_num__: 7,
                      changes: {},
                    },
                    'file_|-Write config_|-/etc/kubernetes/kubelet.conf_|-managed': {
                      result: false,
                      comment: 'Unable to manage file: disk full',
                      __run_num__: 6,
                      changes: {},
                    },
                  },
                },
              },
            },
            'salt_|-Uncordon_|-Uncordon_|-function': {
              result: false,
              comment: 'One or more requisite failed: orch.Deploy node',
              __run_num__: 2,
              changes: {},
            },
          },
        },
        outputter: 'highstate',
        retcode: 1,
      },
      success: false,
    },
  },
};

describe('reading Salt state results', () => {
  it('goes down to the state that really failed inside an orchestrate step', () => {
    const failure = firstFailedStep(nested);
    if (!failure) throw new Error('no failure found');
    expect(failure.target).toBe('bootstrap_master');
    expect(failure?.step.id).toBe('Deploy node');
    expect(failure?.cause?.target).toBe('bootstrap');
    expect(failure?.cause?.step).toMatchObject({
      module: 'file',
      id: 'Write config',
      name: '/etc/kubernetes/kubelet.conf',
      function: 'managed',
      comment: 'Unable to manage file: disk full',
    });
    expect(describeFailure(failure)).toBe(
      'Deploy node: Run failed on minions: bootstrap <- Write config: Unable to manage file: disk full',
    );
  });

  // jobs.print_job answers of the real salt-master (3007.8), recorded from the conformance SLS files.
  const recorded = JSON.parse(readFileSync('test/fixtures/cluster/salt/recorded/print-job.json', 'utf8')) as Record<string, Record<string, { Result: unknown }>>;
  const resultOf = (name: string) => Object.values(recorded[name] ?? {})[0]?.Result;

  it('reports the reason a real test.fail_without_changes step carries in its name, not "Failure!"', () => {
    const result = orchestrateResult('1', resultOf('failing_reason'));
    expect(result.success).toBe(false);
    expect(result.failure?.step).toMatchObject({ comment: 'Failure!', name: 'Version 9.9.9 is not available for Solution zenko' });
    expect(describeFailure(result.failure as NonNullable<typeof result.failure>)).toBe(
      'Cannot deploy Solution zenko-9.9.9 for environment sdk-env: Version 9.9.9 is not available for Solution zenko',
    );
  });

  it('reads a real nested orchestrate (salt.runner state.orchestrate) down to the inner reason', () => {
    const failure = orchestrateResult('1', resultOf('nested')).failure;
    if (!failure) throw new Error('no failure found');
    expect(describeFailure(failure)).toBe(
      "Run the inner orchestrate: Runner function 'state.orchestrate' failed. <- Cannot deploy Solution zenko-9.9.9 for environment sdk-env: Version 9.9.9 is not available for Solution zenko",
    );
    expect(describeFailure(orchestrateResult('1', resultOf('nested_minion')).failure as typeof failure)).toBe('Apply a state on a minion: No minions returned');
  });

  it('lists steps in execution order, not in key order', () => {
    const runs = stateRuns(nested);
    expect(runs[0]?.steps.map((s) => s.id)).toEqual(['Check pillar', 'Deploy node', 'Uncordon']);
  });

  it('calls a run with a non-zero retcode failed even without a failed step (render errors)', () => {
    const renderError = { m_master: { return: { return: { data: { m_master: ["No matching sls found for 'x' in env 'base'"] }, retcode: 1 }, success: false } } };
    const result = orchestrateResult('1', renderError);
    expect(result.success).toBe(false);
    expect(result.failure).toBeUndefined();
  });

  it('calls a run whose every step passed successful', () => {
    const ok = {
      m_master: {
        return: {
          return: { data: { m_master: { 'test_|-a_|-a_|-nop': { result: true, comment: '', __run_num__: 0, changes: {} } } }, retcode: 0 },
          success: true,
        },
      },
    };
    expect(orchestrateResult('1', ok).success).toBe(true);
  });
});

describe('SaltAPI settings from the environment', () => {
  it('reads all three variables, or nothing', () => {
    expect(saltApiFromEnv({})).toBeUndefined();
    expect(
      saltApiFromEnv({
        METALK8S_SALT_API_URL: 'https://10.0.0.1:4507',
        METALK8S_SALT_API_USERNAME: 'oidc:me@example.com',
        METALK8S_SALT_API_TOKEN: 't',
      }),
    ).toEqual({ url: 'https://10.0.0.1:4507', username: 'oidc:me@example.com', token: 't' });
  });

  it('names the missing variables when only some are set', () => {
    try {
      saltApiFromEnv({ METALK8S_SALT_API_URL: 'https://10.0.0.1:4507' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ClusterError);
      expect((err as ClusterError).code).toBe('SALT_API_ENV_INCOMPLETE');
      expect((err as Error).message).toContain('METALK8S_SALT_API_USERNAME');
      expect((err as Error).message).toContain('METALK8S_SALT_API_TOKEN');
    }
  });
});
