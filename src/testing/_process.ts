/**
 * Long-running child processes of the test harness: started in their own process group with
 * output to a log file, stopped with SIGTERM then SIGKILL, by process group id only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';

/** A started daemon. */
export interface Daemon {
  readonly name: string;
  readonly log: string;
  readonly child: ChildProcess;
  /** The last lines of its log, for error messages. */
  tail(lines?: number): string;
  stop(): Promise<void>;
}

const running = new Set<number>();
let exitHookInstalled = false;

// If the test runner or the emulator process dies without stopping its daemons, kill their
// process groups on the way out rather than leave an API server behind.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of running) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
    }
  });
}

/** Starts `bin args…`, stdout and stderr appended to `log`. */
export function startDaemon(name: string, bin: string, args: readonly string[], log: string, env?: NodeJS.ProcessEnv): Daemon {
  const fd = openSync(log, 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
  closeSync(fd);
  child.on('error', () => {});
  installExitHook();
  const pid = child.pid;
  if (pid !== undefined) {
    running.add(pid);
    child.once('exit', () => running.delete(pid));
  }
  const tail = (lines = 20): string => {
    try {
      return readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      const pid = child.pid;
      if (pid === undefined || child.exitCode !== null || child.signalCode !== null) {
        resolve();
        return;
      }
      const kill = (signal: NodeJS.Signals): void => {
        try {
          process.kill(-pid, signal);
        } catch {}
      };
      const timer = setTimeout(() => kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(timer);
        kill('SIGKILL');
        resolve();
      });
      kill('SIGTERM');
    });
  return { name, log, child, tail, stop };
}
