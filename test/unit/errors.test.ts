import { describe, expect, it } from 'vitest';
import { redact, SdkError } from '../../src/errors.js';

// Credentials in real shapes are removed; ordinary text that only looks alike survives intact.
const JWT =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6IkJ3In0.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Iiwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50OmRlZmF1bHQ6YWRtaW4ifQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA';
const PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----';

describe('redact: credentials go', () => {
  const cases: [string, string, string][] = [
    ['bearer header', 'authorization: Bearer abc.def-ghi', 'abc.def-ghi'],
    ['basic header', 'Authorization: Basic dXNlcjpzM2NyZXQ=', 'dXNlcjpzM2NyZXQ='],
    ['bare bearer token', 'retry with Bearer 0123456789abcdefghijKLMN', '0123456789abcdefghijKLMN'],
    ['salt token header', 'X-Auth-Token: 6d1b722e1b9a55e8fbb0a8b2c1e5a7c2d9f0e1a3', '6d1b722e1b9a55e8fbb0a8b2c1e5a7c2d9f0e1a3'],
    ['JSON password', '{"username":"admin","password":"hunter2!"}', 'hunter2!'],
    ['YAML token', 'token: s3cr3t-value', 's3cr3t-value'],
    ['query token', 'GET /v2/token?service=reg&access_token=abcdef123456', 'abcdef123456'],
    ['URL password', 'cannot reach https://vendor:pa55w0rd@registry.example.com/v2/', 'pa55w0rd'],
    ['docker auth', '{"auths":{"r.example.com":{"auth":"dmVuZG9yOnBhNTV3MHJk"}}}', 'dmVuZG9yOnBhNTV3MHJk'],
    ['client secret', 'client_secret=zxcvbnm123', 'zxcvbnm123'],
    ['service-account JWT anywhere', `login failed for ${JWT} (401)`, JWT],
    ['PEM private key', `key:\n${PEM}\nend`, 'MC4CAQAwBQYDK2VwBCIEIJ'],
    ['GitHub token', 'clone with ghp_16C7e42F292c6912E7710c838347Ae178B4a failed', 'ghp_16C7e42F292c6912E7710c838347Ae178B4a'],
  ];
  for (const [name, text, secret] of cases) {
    it(name, () => {
      const out = redact(text);
      expect(out).not.toContain(secret);
      expect(out).toContain('[redacted');
    });
  }

  it('in every SdkError message and hint', () => {
    const e = new SdkError('X', 'login with password=hunter2 refused', { hint: `use token: ${JWT.slice(0, 20)}x` });
    expect(e.message).toBe('login with password=[redacted] refused');
    expect(e.hint).not.toContain('eyJhbGci');
  });
});

describe('redact: look-alikes survive', () => {
  const kept = [
    '/etc/passwd:1:8: not a solution file',
    '/etc/passwd',
    'secretName: acme-tls',
    'the token was refused by the API server',
    'password reset required',
    'tokens: 3, passwords: none',
    'images/zenko/2.6.0/3695cb7d1e4d2a5c6f1b8e9a0d3c2b1a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c: content has sha256 81e0…',
    'sha256:3695cb7d1e4d2a5c6f1b8e9a0d3c2b1a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c',
    'location = "/v2/{{ repository }}/app/manifests/1.0" { alias {{ registry_root }}/app/1.0/; }',
    'http://127.0.0.1:8080/v2/zenko-2.6.0/zenko-operator/manifests/2.6.0',
    'ssh://root@10.0.0.1:22',
    'error at line 3, column 13: expected ":"',
    'metadata.annotations has "storageclass.kubernetes.io/is-default-class"',
    'tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token',
    'basic-auth realm',
    '--salt-api-token <token>',
  ];
  for (const text of kept) {
    it(JSON.stringify(text), () => {
      expect(redact(text)).toBe(text);
    });
  }
});
