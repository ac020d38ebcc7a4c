/**
 * Other processes on this host: whether one still runs, and what /proc says of it. Used by the output-folder
 * lock (src/phase/out-dir.ts) and by the explorer's server, which stops with the processes that launched it.
 * Node only.
 */
import { readFileSync } from 'node:fs';

/** /proc/PID/stat's name, state and parent, or null where there is no /proc (or no such process). */
export function procStat(pid: number): { comm: string; state: string; ppid: number } | null {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces or parentheses, so split at the last ')'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), state, ppid: Number(ppid) };
  } catch {
    return null;
  }
}

/**
 * Whether `pid` runs: signal 0 reaches it (EPERM: someone else's process) and, where /proc says, it is not a
 * zombie (exited, not yet reaped by its parent).
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return procStat(pid)?.state !== 'Z';
}
