/**
 * An output folder owned by one run at a time. A run claims its --out before training: it refuses a folder that
 * holds another run's finished results (--overwrite replaces them) or an interrupted one (--resume continues it,
 * --overwrite starts over), and a folder another live process is writing (a lock file naming its pid and host).
 * A lock left by a dead process on this host is taken over, with the temporary files its writes left behind.
 * Shards go without a lock: the scheduler runs one task per shard, and a task requeued on another host could
 * not tell whether the lock's process on the first is alive.
 */
import { existsSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync, closeSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { isAlive } from '../processes.ts';
import { ATOMIC_TEMP_FILE } from './sweep.ts';

export const LOCK_FILE = '.lock';

export interface OutClaim {
  /** Lines worth telling the user (a stale lock taken over, leftovers removed). */
  notes: string[];
  /** Remove the lock (also done when the process exits). */
  release: () => void;
}

interface LockContent {
  pid: number;
  host: string;
  started: string;
}

function readLock(path: string): LockContent | null {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockContent>;
    return Number.isInteger(o.pid) && typeof o.host === 'string' ? { pid: o.pid!, host: o.host.slice(0, 100), started: String(o.started).slice(0, 40) } : null;
  } catch {
    return null; // torn or foreign: treated as stale below only on this host's terms
  }
}

/**
 * Claim `dir` for a run. `finished` and `interrupted` are the files that mark another run's output there
 * (results.json; partial.json). Throws an Error naming the folder and the flag that would proceed.
 */
export function claimOutDir(dir: string, options: { overwrite: boolean; resume?: boolean; finished?: string; interrupted?: string; lock?: boolean }): OutClaim {
  mkdirSync(dir, { recursive: true });
  const notes: string[] = [];
  const lockPath = join(dir, LOCK_FILE);
  const host = os.hostname();
  for (let attempt = 0; options.lock !== false; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, host, started: new Date().toISOString() }));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const held = readLock(lockPath);
      if (held && held.host !== host) throw new Error(`${dir} is being written by pid ${held.pid} on ${held.host} (since ${held.started}); if that run is dead, remove ${lockPath}`);
      if (held && isAlive(held.pid)) throw new Error(`${dir} is being written by another run (pid ${held.pid}, since ${held.started}); wait for it or choose another --out`);
      unlinkSync(lockPath);
      notes.push(`${dir}: took over a lock left by ${held ? `pid ${held.pid}, which is no longer running` : 'an unreadable lock file'}`);
    }
  }
  let released = false;
  const release = (): void => {
    if (released || options.lock === false) return;
    released = true;
    const held = readLock(lockPath);
    if (held?.pid === process.pid && held.host === host) rmSync(lockPath, { force: true });
  };
  process.once('exit', release);
  try {
    // Temporary files of writes that never finished (writeAtomic names them NAME.tmp-PID): their process is gone.
    for (const name of readdirSync(dir)) {
      const m = ATOMIC_TEMP_FILE.exec(name);
      if (m && !isAlive(Number(m[1]))) {
        rmSync(join(dir, name), { force: true });
        notes.push(`${dir}: removed ${name}, left by an interrupted write`);
      }
    }
    const finished = options.finished && existsSync(join(dir, options.finished));
    const interrupted = options.interrupted && existsSync(join(dir, options.interrupted));
    if (!options.overwrite) {
      if (interrupted && !options.resume) throw new Error(`${dir} holds an interrupted run (${options.interrupted}): --resume continues it, --overwrite starts over`);
      if (finished && !interrupted) throw new Error(`${dir} holds a finished run (${options.finished})${options.resume ? ', nothing to resume' : ''}: --overwrite replaces it, or choose another --out`);
    } else if (interrupted) {
      rmSync(join(dir, options.interrupted!), { force: true });
      notes.push(`${dir}: --overwrite: removed the interrupted run's ${options.interrupted}`);
    }
  } catch (e) {
    release();
    throw e;
  }
  return { notes, release };
}
