/**
 * Per-run PKI of the test control plane, made with the `openssl` CLI: Node's crypto can make
 * keys but not X.509 certificates, and no npm library is worth a dependency for four certs.
 */
import { ClusterError } from '../errors.js';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of the generated files (PEM). */
export interface ControlPlanePki {
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  readonly saKey: string;
  readonly saPub: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new ClusterError('OPENSSL_MISSING', 'openssl is not installed', { hint: 'Install it (Debian package `openssl`).' });
    throw new ClusterError('OPENSSL_FAILED', `openssl ${args[0]} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

async function ecKey(dir: string, name: string): Promise<string> {
  const file = path.join(dir, name);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], dir);
  return file;
}

async function signed(
  dir: string,
  name: string,
  subject: string,
  ext: string,
  ca: { cert: string; key: string },
): Promise<{ cert: string; key: string }> {
  const key = await ecKey(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const extFile = path.join(dir, `${name}.ext`);
  const cert = path.join(dir, `${name}.crt`);
  await writeFile(extFile, ext);
  await openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr], dir);
  await openssl(
    ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '30', '-sha256', '-extfile', extFile, '-out', cert],
    dir,
  );
  return { cert, key };
}

/** Issues a server certificate signed by the run's CA, for `names` (DNS names and IP addresses). */
export async function issueServerCertificate(
  dir: string,
  ca: { cert: string; key: string },
  name: string,
  names: readonly string[],
): Promise<{ cert: string; key: string }> {
  const sans = names.map((n) => (/^[0-9.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  return signed(
    dir,
    name,
    `/CN=${name}`,
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans}\n`,
    ca,
  );
}

/** Writes a CA, the API server's serving cert, an admin client cert and the SA signing key. */
export async function generatePki(dir: string, serviceIp: string): Promise<ControlPlanePki> {
  const caKey = await ecKey(dir, 'ca.key');
  const caCert = path.join(dir, 'ca.crt');
  await openssl(
    ['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=metalk8s-sdk-test-ca', '-days', '30', '-sha256', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', '-out', caCert],
    dir,
  );
  const ca = { cert: caCert, key: caKey };
  const server = await signed(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:${serviceIp},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:salt-master,DNS:salt-master.kube-system.svc\n`,
    ca,
  );
  const admin = await signed(
    dir,
    'admin',
    '/O=system:masters/CN=kubernetes-admin',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
    ca,
  );
  const saKey = path.join(dir, 'sa.key');
  const saPub = path.join(dir, 'sa.pub');
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', saKey], dir);
  await openssl(['pkey', '-in', saKey, '-pubout', '-out', saPub], dir);
  return {
    caCert,
    caKey,
    serverCert: server.cert,
    serverKey: server.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    saKey,
    saPub,
  };
}
