import { describe, expect, it } from 'vitest';
import { lintPromql } from '../../../src/solution/_promql.js';

const kinds = (expr: string, requireInstant = true) => lintPromql(expr, { requireInstant }).map((p) => p.kind);

describe('PromQL lint (Prometheus UI linter + RE2 matchers + result type)', () => {
  it.each([
    ['rate(x)', 'type'],
    ['abs(up[5m])', 'type'],
    ['1 + "a"', 'type'],
    ['up and 1', 'type'],
    ['topk("a", up)', 'type'],
    ['up{a=~"("}', 'regex'],
    ['up{a!~"(?=x)"}', 'regex'],
    ['"foo"', 'result'],
    ['up[5m]', 'result'],
    ['rate(x[5m]', 'syntax'],
    ['sum(x) by job', 'syntax'],
  ])('%s → %s', (expr, kind) => {
    expect(kinds(expr)).toContain(kind);
  });

  it.each([
    'up == 0',
    'sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) > 0.05',
    'histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))',
    'predict_linear(kubelet_volume_stats_available_bytes{persistentvolumeclaim=~"mongodb-.*"}[6h], 24 * 3600) < 0',
    'label_replace(up, "a", "$1", "b", "(.*)")',
    'absent_over_time(up{job=~`a|b\\d`}[5m])',
    'max_over_time(rate(x[5m])[1h:1m])',
    'scalar(sum(up)) > bool 1',
    'vector(1)',
    '1',
  ])('%s is fine', (expr) => {
    expect(lintPromql(expr, { requireInstant: true })).toEqual([]);
  });

  it('a range vector is fine for a dashboard query', () => {
    expect(kinds('up[5m]', false)).toEqual([]);
  });
});

describe('PromQL rules promtool applies beyond the UI linter', () => {
  it.each(['rate(x[0s])', 'up{__name__=~"a|b"}', 'limitk(2, up)', 'sort_by_label(up, "a")'])('%s is refused', (expr) => {
    expect(lintPromql(expr).length).toBeGreaterThan(0);
  });
  it.each(['max_over_time(rate(x[5m])[1h:])', 'x offset 0s', 'holt_winters(x[5m], 0.5, 0.5)'])('%s is fine', (expr) => {
    expect(lintPromql(expr)).toEqual([]);
  });
});

describe('PromQL lint is deterministic', () => {
  it('a long expression, whose parse exceeds CodeMirror\'s 20 ms budget, gets no invented error', () => {
    const expr = Array.from({ length: 120 }, (_, i) => `sum(rate(acme_requests_total{shard="${i}"}[5m]))`).join(' + ');
    expect(lintPromql(`${expr} > 0`, { requireInstant: true })).toEqual([]);
  });
});
