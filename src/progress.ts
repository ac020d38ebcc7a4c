/**
 * Progress for long work: a redrawn bar with rate and ETA on a TTY, a plain line every few seconds otherwise
 * (CI logs, pipes).
 */
export interface Progress {
  update(done: number, note?: string): void;
  finish(note?: string): void;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(0)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** counts: print "done/total" (true) or only the percentage (for fractional work such as run-steps). */
export function progress(label: string, total: number, { counts = true, stream = process.stderr }: { counts?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const start = performance.now();
  const tty = stream.isTTY === true;
  let lastPrint = -Infinity;
  const line = (done: number, note: string): string => {
    const elapsed = (performance.now() - start) / 1000;
    const eta = done > 0 ? (elapsed * (total - done)) / done : Infinity;
    const pct = total > 0 ? done / total : 1;
    const width = 24;
    const bar = tty ? `[${'#'.repeat(Math.round(pct * width)).padEnd(width, '.')}] ` : '';
    return `${label} ${bar}${counts ? `${done}/${total} ` : ''}(${(pct * 100).toFixed(0)}%) elapsed ${duration(elapsed)} eta ${duration(eta)}${note ? ` ${note}` : ''}`;
  };
  return {
    update(done, note = '') {
      const now = performance.now();
      if (now - lastPrint < (tty ? 100 : 5000)) return;
      lastPrint = now;
      if (tty) stream.write(`\r\x1b[2K${line(done, note)}`);
      else stream.write(`${line(done, note)}\n`);
    },
    finish(note = '') {
      stream.write(`${tty ? '\r\x1b[2K' : ''}${line(total, note)}\n`);
    },
  };
}
