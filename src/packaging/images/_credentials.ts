/** Registry credentials from Docker's config.json (and the containers auth.json skopeo/podman write). */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
}

/** Candidate auth files, most specific first. */
export function authFiles(explicit: string | undefined): string[] {
  if (explicit) return [explicit];
  const out: string[] = [];
  if (process.env.REGISTRY_AUTH_FILE) out.push(process.env.REGISTRY_AUTH_FILE);
  if (process.env.XDG_RUNTIME_DIR) out.push(join(process.env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  out.push(join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json'));
  return out;
}

function keysFor(registry: string): string[] {
  const keys = [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
  if (registry === 'docker.io') keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  return keys;
}

/** Looks the registry up in the auth files; undefined when none has it (credential helpers are not run). */
export async function credentialsFromFiles(registry: string, explicit: string | undefined): Promise<BasicCredentials | undefined> {
  for (const file of authFiles(explicit)) {
    let doc: AuthFile;
    try {
      doc = JSON.parse(await readFile(file, 'utf8')) as AuthFile;
    } catch {
      continue;
    }
    for (const key of keysFor(registry)) {
      const entry = doc.auths?.[key];
      if (!entry) continue;
      if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
      if (entry.auth) {
        const text = Buffer.from(entry.auth, 'base64').toString('utf8');
        const colon = text.indexOf(':');
        if (colon > 0) return { username: text.slice(0, colon), password: text.slice(colon + 1) };
      }
    }
  }
  return undefined;
}
