import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { render, validateSolution } from '../../../src/index.js';
import { loadSolutionFile } from '../../../src/packaging/index.js';
import { baseSolution } from '../../fixtures/solution/base.js';

function promtool(): string {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error('promtool is not installed: install Debian\'s "prometheus" package (.ci/run does).');
  return found;
}

const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(groups: unknown): { ok: boolean; output: string } {
  const file = join(dir, `rules-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, JSON.stringify({ groups }));
  const r = spawnSync(promtool(), ['check', 'rules', file], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

describe('rendered alert rules, checked by promtool', () => {
  it('promtool accepts every rule group of examples/zenko-like', async () => {
    const { solution } = await loadSolutionFile('examples/zenko-like');
    const body = new TextDecoder().decode(render(solution).files.get('platform/prometheusrules/zenko-alerts.yaml'));
    const rule = parseYaml(body);
    const r = check(rule.spec.groups);
    const count = (solution.definition.alerts ?? []).reduce((n, g) => n + g.rules.length, 0);
    expect(count).toBeGreaterThan(5);
    expect(r.output).toContain(`SUCCESS: ${count} rules found`);
    expect(r.ok).toBe(true);
  });

  it('our PromQL check and promtool agree on good and broken expressions', () => {
    const exprs = [
      'up == 0',
      'sum by (job) (rate(http_requests_total[5m])) > 10',
      'histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))',
      'absent(up{job="a"})',
      'rate(x[5m]',
      'sum(x) by job',
      'up ==',
      'foo{a="b"',
    ];
    for (const expr of exprs) {
      const s = baseSolution();
      s.alerts[0].rules[0].expr = expr;
      const ours = !validateSolution(s).issues.some((i) => i.code === 'ALERT_EXPR_SYNTAX');
      const theirs = check([{ name: 'g', rules: [{ alert: 'A', expr }] }]).ok;
      expect(ours, expr).toBe(theirs);
    }
  });

  it('promtool itself is the real one', () => {
    expect(execFileSync(promtool(), ['--version'], { encoding: 'utf8' })).toMatch(/promtool, version/);
  });
});
