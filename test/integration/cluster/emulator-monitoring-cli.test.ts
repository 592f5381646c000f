/**
 * `solution emulator up --monitoring`: the export lines name the control-plane ingress, and the
 * platform-service commands reach real Prometheus and Alertmanager through it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/cli.js');

describe('solution emulator up --monitoring', () => {
  let stateDir = '';
  afterAll(async () => {
    if (stateDir) {
      await run(process.execPath, [cli, 'emulator', 'down', '--state-dir', stateDir]).catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('exports METALK8S_INGRESS_URL; metrics and alerts commands go through it; down unsets it', async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
    stateDir = await mkdtemp(path.join(tmpdir(), 'sdk-emulator-monitoring-'));
    const solution = `"${process.execPath}" "${cli}"`;
    const script = [
      'set -e',
      `eval "$(${solution} emulator up --monitoring --state-dir "${stateDir}")"`,
      'echo "INGRESS=$METALK8S_INGRESS_URL"',
      `${solution} metrics query 'vector(7)' --json`,
      // The emulator loads MetalK8s' always-firing Watchdog rule: it reaches Alertmanager.
      `for i in $(seq 1 60); do ${solution} alerts list -f alertname=Watchdog | grep -q Watchdog && break; sleep 0.5; done`,
      `${solution} alerts list -f alertname=Watchdog`,
      `eval "$(${solution} emulator down --state-dir "${stateDir}")"`,
      'echo "AFTER=$(printenv METALK8S_INGRESS_URL || echo unset)"',
    ].join('\n');
    const { stdout } = await run('bash', ['-c', script], { timeout: 300_000 });
    expect(stdout).toMatch(/^INGRESS=https:\/\/127\.0\.0\.1:\d+$/m);
    const result = JSON.parse(stdout.split('\n').find((l) => l.startsWith('{"type":"result"')) ?? '{}') as { data?: { result?: { value: number }[] } };
    expect(result.data?.result?.[0]?.value).toBe(7);
    expect(stdout).toMatch(/^Watchdog\s+none\s+active\s+-/m);
    expect(stdout).toMatch(/^AFTER=unset$/m);
  });
});
