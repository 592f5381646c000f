/**
 * The pure pieces of the platform-service clients: matchers as Alertmanager reads them,
 * durations, PromQL and LogQL selectors, the PromQL check before sending.
 */
import { describe, expect, it } from 'vitest';
import { assertPromql, formatMatcher, logql, parseDuration, parseMatcher, selector } from '../../../src/cluster/index.js';
import { ClusterError, PromqlError } from '../../../src/errors.js';

describe('Alertmanager matchers', () => {
  it('parses the four operators, quoted or not', () => {
    expect(parseMatcher('alertname=ZenkoS3Down')).toEqual({ name: 'alertname', value: 'ZenkoS3Down', isRegex: false, isEqual: true });
    expect(parseMatcher('severity!=info')).toEqual({ name: 'severity', value: 'info', isRegex: false, isEqual: false });
    expect(parseMatcher('severity=~"critical|warning"')).toEqual({ name: 'severity', value: 'critical|warning', isRegex: true, isEqual: true });
    expect(parseMatcher('namespace !~ "kube-.*"')).toEqual({ name: 'namespace', value: 'kube-.*', isRegex: true, isEqual: false });
    expect(parseMatcher('summary="a \\"quoted\\" word"').value).toBe('a "quoted" word');
  });

  it('formats them as the filter parameter expects, quoting values', () => {
    expect(formatMatcher('alertname=ZenkoS3Down')).toBe('alertname="ZenkoS3Down"');
    expect(formatMatcher({ name: 'job', value: 'a"b', isRegex: true, isEqual: false })).toBe('job!~"a\\"b"');
  });

  it('refuses what is not a matcher, naming it', () => {
    const err = (() => {
      try {
        parseMatcher('ZenkoS3Down');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ClusterError);
    expect(err).toMatchObject({ code: 'MATCHER_INVALID' });
    expect((err as Error).message).toContain('"ZenkoS3Down"');
  });
});

describe('durations', () => {
  it('reads Prometheus units and milliseconds', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration(250)).toBe(250);
  });
  it('refuses the rest', () => {
    for (const bad of ['', '10', '1x', '1h 30m', -5, 0, Number.NaN]) expect(() => parseDuration(bad as string | number)).toThrow(/duration/);
  });
});

describe('selectors', () => {
  it('PromQL: one namespace is an equality, several a sorted, escaped regex', () => {
    expect(selector(['zenko-prod'], { metric: 'up', labels: { job: 'zenko-cloudserver' } })).toBe('up{namespace="zenko-prod",job="zenko-cloudserver"}');
    expect(selector(['b.x', 'a'])).toBe('{namespace=~"a|b\\\\.x"}');
    expect(() => selector(['a'], { labels: { 'app.kubernetes.io/name': 'x' } })).toThrow(/not a Prometheus label name/);
  });
  it('a selector built for an environment parses as PromQL', () => {
    expect(() => assertPromql(`sum by (pod) (rate(${selector(['a', 'b'], { metric: 'container_cpu_usage_seconds_total' })}[5m]))`)).not.toThrow();
  });
  it('LogQL: fluent-bit labels and quoted line filters', () => {
    expect(logql({ namespace: 'zenko-prod', app: 'zenko-operator' }, { contains: ['error', 'say "hi"'] })).toBe('{namespace="zenko-prod",app="zenko-operator"} |= "error" |= "say \\"hi\\""');
    expect(() => logql({})).toThrow(/at least one label/);
  });
});

describe('PromQL check before sending', () => {
  it('gives line and column of the first syntax error', () => {
    let err: unknown;
    try {
      assertPromql('sum(rate(up[5m])\n  by (job)');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PromqlError);
    expect(err).toMatchObject({ code: 'PROMQL_SYNTAX', errorType: 'syntax', line: 2 });
  });
});
