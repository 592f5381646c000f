import { createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isSecretKey, REDACTED, RedactionReport, scrubObject, scrubText } from '../../../src/cluster/redaction.js';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** A token shaped as kube-apiserver mints them for ServiceAccounts (RS256 JWT). */
const serviceAccountToken = () =>
  `${b64url({ alg: 'RS256', kid: randomBytes(16).toString('hex') })}.${b64url({
    aud: ['https://kubernetes.default.svc'],
    iss: 'https://kubernetes.default.svc',
    sub: 'system:serviceaccount:zenko:zenko-operator',
    exp: 1_900_000_000,
  })}.${randomBytes(256).toString('base64url')}`;

describe('scrubText', () => {
  it('removes PEM private keys of every kind, and keeps certificates', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keys = [
      rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
      rsa.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }).toString(),
      `-----BEGIN OPENSSH PRIVATE KEY-----\n${randomBytes(300).toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    ];
    const cert = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2Fub3RSZWFs\n-----END CERTIFICATE-----';
    const report = new RedactionReport();
    const out = scrubText(`ca: |\n${cert}\n${keys.join('\n')}\nend`, { where: 'configmaps.json', report });
    for (const k of keys) {
      const body = k.split('\n')[1] ?? '';
      expect(body.length).toBeGreaterThan(20);
      expect(out).not.toContain(body);
    }
    expect(out).toContain(cert);
    expect(out).toContain('-----BEGIN RSA PRIVATE KEY----- [redacted] -----END RSA PRIVATE KEY-----');
    expect(out.endsWith('end')).toBe(true);
    expect(report.findings()).toEqual([{ where: 'configmaps.json', rule: 'private-key', count: keys.length }]);
  });

  it('removes bearer, basic and X-Auth-Token credentials and ServiceAccount tokens', () => {
    const jwt = serviceAccountToken();
    const salt = randomBytes(20).toString('hex');
    const lines = [
      `I1201 08:00:00 request.go:1 "Request Headers" Authorization="Bearer ${jwt}"`,
      `curl -H 'Authorization: Basic ${Buffer.from('admin:hunter2').toString('base64')}' https://x`,
      `X-Auth-Token: ${salt}`,
      `{"token":"${jwt}"}`,
      `login with ${jwt} ok`,
    ];
    const report = new RedactionReport();
    const out = scrubText(lines.join('\n'), { where: 'logs/op.log', report });
    expect(out).not.toContain(jwt.split('.')[2]);
    expect(out).not.toContain(jwt.split('.')[1]);
    expect(out).not.toContain(salt);
    expect(out).not.toContain(Buffer.from('admin:hunter2').toString('base64'));
    expect(out).toContain('I1201 08:00:00 request.go:1 "Request Headers"');
    expect(out).toContain('https://x');
    expect(report.total).toBeGreaterThanOrEqual(lines.length);
    expect(JSON.stringify(report.findings())).not.toContain(salt);
  });

  it('removes values of password, token and secret keys in YAML, JSON, env files, logfmt, URLs and flags', () => {
    const secret = () => `S3cr3t-${randomBytes(6).toString('hex')}`;
    const values = Array.from({ length: 12 }, secret);
    const text = [
      `db:\n  password: ${values[0]}`,
      `{"adminPassword": "${values[1]}", "user": "admin"}`,
      `AWS_SECRET_ACCESS_KEY=${values[2]}`,
      `level=info msg="connected" api_key=${values[3]} node=n1`,
      `s3:\n  secretKey: '${values[4]} with spaces'`,
      `postgres://zenko:${values[5]}@db.zenko.svc:5432/zenko`,
      `/usr/bin/op --db-password ${values[6]} --verbose`,
      `https://x/callback?code=1&access_token=${values[7]}&state=2`,
      `auth_token = "${values[8]}"`,
      `client_secret: "${values[9]}"`,
      `{"auths":{"r.example":{"auth":"${values[10]}"}}}`,
      `MONGO_INITDB_ROOT_PASSWORD: ${values[11]}`,
    ].join('\n');
    const out = scrubText(text);
    for (const v of values) expect(out, v).not.toContain(v.split(' ')[0]);
    expect(out).toContain('"user": "admin"');
    expect(out).toContain('db.zenko.svc:5432/zenko');
    expect(out).toContain('--verbose');
    expect(out).toContain('node=n1');
  });

  it('keeps look-alikes: digests, uids, references to Secrets, settings about secrets, prose', () => {
    const digest = `sha256:${createHash('sha256').update('x').digest('hex')}`;
    const text = [
      `image: metalk8s-registry-from-config.invalid/zenko-2.6.0/zenko-operator@${digest}`,
      `uid: ${randomUUID()}`,
      'secretName: zenko-cert',
      'passwordFile: /etc/zenko/password',
      'tokenExpirySeconds: 3600',
      'password_min_length: 12',
      'passwordPolicy: strict',
      'type: kubernetes.io/service-account-token',
      'msg="refreshing token" attempt=2',
      'the token expired, logging in again',
      `password: \${DB_PASSWORD}`,
      'password: ""',
      'token: [redacted]',
      'url: https://salt-master.kube-system:4507/login',
      `jid: 20261201080000123456`,
      `git-revision: ${createHash('sha1').update('y').digest('hex')}`,
      'oauthProvider: dex',
      'Authorization: granted by RBAC',
    ].join('\n');
    const report = new RedactionReport();
    expect(scrubText(text, { where: 'f', report })).toBe(text);
    expect(report.findings()).toEqual([]);
  });
});

describe('scrubObject', () => {
  it('scrubs CR fields, container env pairs and strings inside, and keeps the rest', () => {
    const jwt = serviceAccountToken();
    const cr = {
      apiVersion: 'zenko.io/v1',
      kind: 'Zenko',
      metadata: { name: 'z', annotations: { 'last-applied': `{"spec":{"s3":{"secretKey":"abc123xyz"}}}` } },
      spec: {
        s3: { accessKey: 'AKIAIOSFODNN7EXAMPLE', secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', secretKeyRef: { name: 'zenko-s3', key: 'secret' } },
        replicas: 3,
        bootstrapToken: jwt,
        tokenTTL: 60,
      },
      containers: [{ name: 'op', env: [{ name: 'DB_PASSWORD', value: 'hunter2hunter2' }, { name: 'LOG_LEVEL', value: 'debug' }, { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 't' } } }] }],
    };
    const report = new RedactionReport();
    const out = scrubObject(cr, { where: 'customresources.json', report });
    const text = JSON.stringify(out);
    for (const v of ['AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI', 'abc123xyz', 'hunter2hunter2', jwt.split('.')[2] ?? '']) expect(text).not.toContain(v);
    expect(out.spec.replicas).toBe(3);
    expect(out.spec.tokenTTL).toBe(60);
    expect(out.spec.s3.secretKeyRef).toEqual({ name: 'zenko-s3', key: 'secret' });
    expect(out.containers[0]?.env[1]).toEqual({ name: 'LOG_LEVEL', value: 'debug' });
    expect(out.containers[0]?.env[2]).toEqual(cr.containers[0]?.env[2]);
    expect(new Set(report.findings().map((f) => f.rule))).toEqual(new Set(['secret-key-value', 'secret-env']));
    expect(text).toContain(REDACTED);
  });

  it('names secret keys by suffix', () => {
    for (const k of ['password', 'DB_PASSWORD', 'adminPassword', 'secret', 'aws_secret_access_key', 'auth', 'auth-token', 'privateKey', 'apiKey', 'credentials']) expect(isSecretKey(k), k).toBe(true);
    for (const k of ['secretName', 'secretRef', 'passwordFile', 'tokenTTL', 'oauth', 'author', 'keyName', 'name', 'tokenUrl']) expect(isSecretKey(k), k).toBe(false);
  });
});
