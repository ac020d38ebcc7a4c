/**
 * One run per output folder: a finished or interrupted run is not replaced without being asked, two live runs
 * never write one folder, and what a dead run left behind (its lock, its temporary files) is cleaned up.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimOutDir, LOCK_FILE } from '../../src/phase/out-dir.ts';

const fresh = () => mkdtempSync(join(tmpdir(), 'out-dir-'));
/** The pid of a process that has exited (pids are not reused this quickly). */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;
const files = { finished: 'results.json', interrupted: 'partial.json' };

describe('claimOutDir', () => {
  it('an empty folder is claimed with a lock naming this process, removed on release', () => {
    const dir = fresh();
    const claim = claimOutDir(dir, { overwrite: false, ...files });
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, host: os.hostname() });
    expect(claim.notes).toEqual([]);
    claim.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('a finished run needs --overwrite; an interrupted one --resume or --overwrite (which removes its partial.json)', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'results.json'), '{}');
    expect(() => claimOutDir(dir, { overwrite: false, ...files })).toThrow(`${dir} holds a finished run (results.json): --overwrite replaces it, or choose another --out`);
    expect(() => claimOutDir(dir, { overwrite: false, resume: true, ...files })).toThrow(`${dir} holds a finished run (results.json), nothing to resume: --overwrite replaces it`);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false); // a refusal leaves no lock behind
    claimOutDir(dir, { overwrite: true, ...files }).release();
    writeFileSync(join(dir, 'partial.json'), '{}');
    expect(() => claimOutDir(dir, { overwrite: false, ...files })).toThrow(`${dir} holds an interrupted run (partial.json): --resume continues it, --overwrite starts over`);
    claimOutDir(dir, { overwrite: false, resume: true, ...files }).release();
    const claim = claimOutDir(dir, { overwrite: true, ...files });
    expect(existsSync(join(dir, 'partial.json'))).toBe(false);
    expect(claim.notes).toEqual([`${dir}: --overwrite: removed the interrupted run's partial.json`]);
    claim.release();
  });

  it('a live run keeps the folder; a dead one loses its lock and its temporary files', () => {
    const dir = fresh();
    const lock = (pid: number, host = os.hostname()) => writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, host, started: '2026-01-01T00:00:00.000Z' }));
    lock(process.ppid); // a live process other than this one
    expect(() => claimOutDir(dir, { overwrite: true, ...files })).toThrow(`${dir} is being written by another run (pid ${process.ppid}, since 2026-01-01T00:00:00.000Z); wait for it or choose another --out`);
    lock(process.ppid, 'another-host');
    expect(() => claimOutDir(dir, { overwrite: true, ...files })).toThrow(`${dir} is being written by pid ${process.ppid} on another-host (since 2026-01-01T00:00:00.000Z); if that run is dead, remove ${join(dir, LOCK_FILE)}`);
    const dead = deadPid();
    lock(dead);
    writeFileSync(join(dir, `partial.json.tmp-${dead}`), '{"cut sh');
    writeFileSync(join(dir, `partial.json.tmp-${process.ppid}`), '{"live');
    const claim = claimOutDir(dir, { overwrite: false, ...files });
    expect(claim.notes).toEqual([`${dir}: took over a lock left by pid ${dead}, which is no longer running`, `${dir}: removed partial.json.tmp-${dead}, left by an interrupted write`]);
    expect(existsSync(join(dir, `partial.json.tmp-${dead}`))).toBe(false);
    expect(existsSync(join(dir, `partial.json.tmp-${process.ppid}`))).toBe(true); // its writer is alive
    claim.release();
  });
});

describe('phase-diagram.ts into a folder that holds a run', () => {
  it('refuses without --overwrite, replaces with it, and leaves no partial.json or lock after success', () => {
    const out = fresh();
    const run = (...args: string[]) => spawnSync('npx', ['tsx', 'scripts/phase-diagram.ts', '--grid', '2', '--seeds', '1', '--steps', '5', '--workers', '1', '--out', out, ...args], { encoding: 'utf8', timeout: 120_000 });
    expect(run().status).toBe(0);
    expect(existsSync(join(out, 'results.json'))).toBe(true);
    expect(existsSync(join(out, 'partial.json'))).toBe(false);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
    const again = run();
    expect(again.status).toBe(1);
    expect(again.stderr.trim()).toBe(`phase-diagram: ${out} holds a finished run (results.json): --overwrite replaces it, or choose another --out`);
    expect(run('--overwrite').status).toBe(0);
  }, 240_000);
});
