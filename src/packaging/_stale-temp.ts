/**
 * Temporary files that outlive their writer: a `pack` killed with SIGKILL (or a machine that lost
 * power) leaves its temporary ISO and blob behind, since no `finally` ran. Every temporary name
 * carries the writer's pid and a tag of its host; a later run removes those whose writer is gone
 * (same host, pid not alive). Files of a writer that is still running are never touched; files
 * from another host (a store on a shared file system) are removed only after a day.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

/** 8 hex digits naming this host in temporary file names. */
export const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/** After this long, a temporary file of another host is considered abandoned. */
export const FOREIGN_TEMP_MAX_AGE_MS = 24 * 3600 * 1000;

/** Whether a process with this pid runs on this host (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a temporary file written by `pid` on the host tagged `host` (undefined: an older name
 * without a host tag, taken as this host), last modified at `mtimeMs`, is abandoned.
 */
export function isAbandoned(pid: number, host: string | undefined, mtimeMs: number, now = Date.now()): boolean {
  if (host !== undefined && host !== HOST_TAG) return now - mtimeMs > FOREIGN_TEMP_MAX_AGE_MS;
  return pid !== process.pid && !pidAlive(pid);
}
