/**
 * Who may call what on the SaltAPI emulator: MetalK8s' `kubernetes_rbac` external auth (a
 * TokenReview, then a SelfSubjectAccessReview on nodes, against the real cluster), its ACL
 * (`@runner`, `@wheel`, `@jobs`, per-target function patterns with their arguments), and the
 * token sessions `/login` issues and a salt-api restart forgets.
 */
import { randomBytes } from 'node:crypto';
import { AuthenticationV1Api, AuthorizationV1Api, KubeConfig } from '@kubernetes/client-node';
import { HttpError, type Lowstate } from './_salt-api-http.js';
import { isRecord } from '../_record.js';
import { sleep } from '../_wait.js';

/** A token `/login` issued, and what it allows. */
export interface Session {
  readonly token: string;
  readonly user: string;
  readonly perms: readonly unknown[];
  readonly expire: number;
  readonly start: number;
}

// --- kubernetes_rbac external auth and MetalK8s' ACL (metalk8s-reference.md §3.4, §8) ------

const LOGIN_REFUSED = 'Could not authenticate using provided credentials';
const STORAGE_OPERATOR = 'system:serviceaccount:kube-system:storage-operator-controller-manager';

/** MetalK8s' `external_auth: kubernetes_rbac` ACL: per user, or per group with a `%` suffix. */
const EXTERNAL_AUTH: Readonly<Record<string, readonly unknown[]>> = {
  'node-admins%': [{ '*': ['.*'] }, '@wheel', '@runner', '@jobs'],
  [STORAGE_OPERATOR]: [
    { '*': ['metalk8s_volumes.device_info', 'metalk8s_volumes.device_name', { 'state.sls': { kwargs: { mods: 'metalk8s\\.volumes.*' } } }] },
    '@jobs',
  ],
};

/**
 * What `kubernetes_rbac` grants `username` for `token`, or `undefined` when the login is
 * refused: a TokenReview (with the master's rights) must name exactly `username`; the user is in
 * `node-admins` when a SelfSubjectAccessReview made with its own token allows `*` on nodes.
 * Perms come sorted as Salt returns them (strings, then dicts), empty for a user of no entry.
 */
async function kubernetesRbacPerms(master: KubeConfig, username: string, token: string): Promise<unknown[] | undefined> {
  const review = await master
    .makeApiClient(AuthenticationV1Api)
    .createTokenReview({ body: { spec: { token } } })
    .catch(() => undefined);
  if (!review?.status?.authenticated || review.status.user?.username !== username) return undefined;
  const cluster = master.getCurrentCluster();
  if (!cluster) return undefined;
  const asUser = new KubeConfig();
  asUser.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'user', token }],
    contexts: [{ name: 'user', cluster: cluster.name, user: 'user' }],
    currentContext: 'user',
  });
  // An API server that does not answer is not a "no": retry, then refuse the login as the real
  // module does when its Kubernetes call raises (an empty-perms login would hide the failure).
  const accessReview = () =>
    asUser
      .makeApiClient(AuthorizationV1Api)
      .createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { resource: 'nodes', verb: '*' } } } })
      .catch(() => undefined);
  let ssar = await accessReview();
  for (let retry = 1; ssar === undefined && retry <= 2; retry++) {
    await sleep(200 * retry);
    ssar = await accessReview();
  }
  if (ssar === undefined) return undefined;
  const groups = ssar.status?.allowed ? ['node-admins'] : [];
  const perms = [...(EXTERNAL_AUTH[username] ?? []), ...groups.flatMap((g) => EXTERNAL_AUTH[`${g}%`] ?? [])];
  const strings = [...new Set(perms.filter((p): p is string => typeof p === 'string'))].sort();
  return [...strings, ...perms.filter((p) => typeof p !== 'string')];
}

function fullMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`).test(value);
  } catch {
    return false;
  }
}

/** Whether one ACL function entry (`'fun.regex'` or `{'fun.regex': {args, kwargs}}`) allows a call. */
function aclFunctionAllows(entry: unknown, fun: string, arg: readonly unknown[], kwarg: Readonly<Record<string, unknown>>): boolean {
  if (typeof entry === 'string') return fullMatch(entry, fun);
  if (!isRecord(entry)) return false;
  return Object.entries(entry).some(([pattern, spec]) => {
    if (!fullMatch(pattern, fun)) return false;
    if (!isRecord(spec)) return true;
    const args = Array.isArray(spec.args) ? spec.args : [];
    if (!args.every((a, i) => i < arg.length && fullMatch(String(a), String(arg[i])))) return false;
    const kwargs = isRecord(spec.kwargs) ? spec.kwargs : {};
    return Object.entries(kwargs).every(([k, v]) => k in kwarg && fullMatch(String(v), String(kwarg[k])));
  });
}

/** The ACL check of a `local` call: an `{<target>: [functions]}` entry must allow it. */
export function aclAllowsLocal(perms: readonly unknown[], fun: string, arg: readonly unknown[], kwarg: Readonly<Record<string, unknown>>): boolean {
  return perms.some(
    (p) => isRecord(p) && Object.entries(p).some(([tgt, funs]) => !tgt.startsWith('@') && Array.isArray(funs) && funs.some((f) => aclFunctionAllows(f, fun, arg, kwarg))),
  );
}

/** The ACL check of a runner, wheel or job call: `@runner`, or `{'@runner': [functions]}`. */
function aclAllowsGroup(perms: readonly unknown[], group: string, fun: string | undefined): boolean {
  return perms.some(
    (p) =>
      p === group ||
      (isRecord(p) && Array.isArray(p[group]) && (fun === undefined || (p[group] as unknown[]).some((f) => aclFunctionAllows(f, fun, [], {})))),
  );
}

/** The SaltAPI tokens issued: `/login` (kubernetes_rbac), the session of a token, a restart forgetting them all. */
export class Sessions {
  readonly #sessions = new Map<string, Session>();
  readonly #kubeConfig: KubeConfig;
  readonly #tokenExpire: number;

  /** `kubeConfig`: the master's rights, for the reviews; `tokenExpire`: Salt's `token_expire`, seconds. */
  constructor(kubeConfig: KubeConfig, tokenExpire: number) {
    this.#kubeConfig = kubeConfig;
    this.#tokenExpire = tokenExpire;
  }

  /** `/login`: a new session for kubernetes_rbac credentials (`username`, `token`), or salt-api's 401. */
  async login(creds: Lowstate): Promise<Session> {
    const { eauth, username, token, password } = creds;
    if (eauth !== 'kubernetes_rbac' || typeof username !== 'string' || typeof token !== 'string' || password !== undefined) {
      throw new HttpError(401, LOGIN_REFUSED);
    }
    const perms = await kubernetesRbacPerms(this.#kubeConfig, username, token);
    if (!perms) throw new HttpError(401, LOGIN_REFUSED);
    const start = Date.now() / 1000;
    const session: Session = { token: randomBytes(20).toString('hex'), user: username, perms, start, expire: start + this.#tokenExpire };
    this.#sessions.set(session.token, session);
    return session;
  }

  /** The session of a token, or salt-api's 401 (`Please log in`) for a token unknown or expired. */
  sessionOf(token: string | undefined): Session {
    const session = token ? this.#sessions.get(token) : undefined;
    if (!session || session.expire * 1000 < Date.now()) throw new HttpError(401, 'Please log in');
    return session;
  }

  /** Forgets every token. */
  clear(): void {
    this.#sessions.clear();
  }
}

/** Throws salt-api's 401 unless the session's ACL allows `group` (and `fun`, when given). */
export function assertAllowed(session: Session, group: '@runner' | '@wheel' | '@jobs', fun?: string): void {
  if (!aclAllowsGroup(session.perms, group, fun)) throw new HttpError(401, `Authentication failure of type "token" occurred for user ${session.user}.`);
}
