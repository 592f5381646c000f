/**
 * `solution nodes …` through the built CLI (dist/cli.js) against the emulator on the shared
 * control plane: declare, list, deploy with JSON step events, cordon/uncordon, drain --dry-run,
 * remove; errors as one readable block, never a stack trace.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type MetalK8sEmulator, startMetalK8s, uniqueSuffix } from '../../../src/testing/index.js';
import { CLI, emulatorEnv, runCli } from './_cli.js';

describe('solution nodes (CLI)', () => {
  const node = `cli-${uniqueSuffix()}`;
  let mk8s: MetalK8sEmulator;
  let env: NodeJS.ProcessEnv;

  const solution = (...args: string[]) => runCli(env, args);
  const lines = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    mk8s = await startMetalK8s({ kubeconfigYaml: await readFile(inject('kubeconfigPath'), 'utf8'), storageOperator: false });
    env = emulatorEnv(inject('kubeconfigPath'), mk8s.saltApi);
  });

  afterAll(async () => {
    await solution('nodes', 'remove', node);
    await mk8s?.stop();
  });

  it('declare, list, deploy (JSON events in step order), cordon, drain --dry-run, remove', async () => {
    // An infra node carries the infra taint, so no other test's Pod lands on it.
    const d = await solution('nodes', 'declare', node, '--role', 'infra', '--host', '127.0.0.1', '--label', 'topology.kubernetes.io/zone=rack-1');
    expect(d).toMatchObject({ code: 0, stdout: `declared ${node} (infra)\n` });
    const listed = lines((await solution('nodes', 'list', '--json')).stdout).at(-1) as { data: { name: string; deploy: { state: string } }[] };
    expect(listed.data.find((n) => n.name === node)?.deploy.state).toBe('declared');

    const deploy = await solution('nodes', 'deploy', node, '--json');
    expect(deploy.code).toBe(0);
    const events = lines(deploy.stdout);
    const steps = events.filter((e) => e.type === 'deploy-step').map((e) => e.id);
    expect(steps[0]).toBe('Install python36');
    // An infra node restarts CoreDNS at the end, as deploy_node does.
    expect(steps.at(-1)).toBe('Restart CoreDNS pods');
    expect(events.at(-1)).toMatchObject({ type: 'result', data: { node, followed: false } });

    const text = await solution('nodes', 'list');
    expect(text.stdout).toMatch(new RegExp(`${node}\\s+infra\\s+129\\.0\\.0\\s+yes\\s+yes\\s+127\\.0\\.0\\.1\\s+deployed`));
    expect((await solution('nodes', 'cordon', node)).stdout).toBe(`${node} cordoned\n`);
    expect((await solution('nodes', 'cordon', node)).stdout).toBe(`${node} was already cordoned\n`);
    expect((await solution('nodes', 'drain', node, '--dry-run', '--ignore-daemonsets')).stdout).toBe('would evict: nothing\n');
    expect((await solution('nodes', 'uncordon', node)).stdout).toBe(`${node} uncordoned\n`);

    const removed = await solution('nodes', 'remove', node);
    expect(removed.stderr).toBe('');
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain('✓ salt-key (key');
    expect(removed.stdout.trim().split('\n').at(-1)).toBe(`removed ${node}`);
    expect((await solution('nodes', 'remove', node)).stdout.trim().split('\n').at(-1)).toBe(`${node} was already removed`);
  });

  it('errors are one readable block with a hint', async () => {
    const r = await solution('nodes', 'deploy', 'no-such-node');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: Node no-such-node does not exist [NODE_NOT_FOUND]\n  hint: List nodes with `solution nodes list`; declare a new one with `solution nodes declare`.\n');
    const bad = await solution('nodes', 'declare', 'x', '--role', 'storage', '--host', 'h');
    expect(bad.stderr).toMatch(/^error: roles: unknown role "storage" \[NODE_DECLARATION_INVALID\]/);
  });
});
