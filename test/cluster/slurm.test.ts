/**
 * A real single-node Slurm cluster (Debian's slurm-wlm and munge): the sweep is submitted as a 4-task job array
 * with examples/slurm/submit.sh, merged by the dependent job, and the merged results.json must equal a
 * one-machine run byte for byte. Runs when SLURM_TEST=1 (set by .ci/run after it installs the packages as
 * root); skipped with the reason otherwise. The daemons it starts are stopped by process id.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const missing = ['slurmctld', 'slurmd', 'sbatch', 'munged'].filter((b) => spawnSync('sh', ['-c', `command -v ${b} || test -x /usr/sbin/${b}`]).status !== 0);
const reason =
  process.env.SLURM_TEST !== '1'
    ? 'SLURM_TEST is not 1 (.ci/run sets it after installing slurm-wlm and munge as root)'
    : process.getuid?.() !== 0
      ? 'not root: the Slurm daemons need root here'
      : missing.length > 0
        ? `not installed: ${missing.join(', ')}`
        : null;
if (reason) console.log(`slurm test skipped: ${reason}`);

describe.skipIf(reason !== null)('a phase sweep on a real Slurm cluster', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'slurm-'));
  const conf = join(dir, 'slurm.conf');
  const env = { ...process.env, SLURM_CONF: conf };
  const started: Array<{ name: string; pidFile: string }> = [];
  const pidOf = (file: string): number => Number(readFileSync(file, 'utf8').trim());

  beforeAll(() => {
    const host = os.hostname().split('.')[0];
    const memory = Math.max(1024, Math.floor(os.totalmem() / 2 ** 20) - 1024);
    for (const d of ['ctld', 'd', 'log']) mkdirSync(join(dir, d));
    writeFileSync(
      conf,
      [
        'ClusterName=test',
        `SlurmctldHost=${host}(127.0.0.1)`,
        'AuthType=auth/munge',
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'SchedulerType=sched/backfill',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_Core',
        `StateSaveLocation=${dir}/ctld`,
        `SlurmdSpoolDir=${dir}/d`,
        `SlurmctldPidFile=${dir}/slurmctld.pid`,
        `SlurmdPidFile=${dir}/slurmd.pid`,
        `SlurmctldLogFile=${dir}/log/slurmctld.log`,
        `SlurmdLogFile=${dir}/log/slurmd.log`,
        'ReturnToService=2',
        `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${os.cpus().length} RealMemory=${memory} State=UNKNOWN`,
        `PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
        '',
      ].join('\n'),
    );
    // munged: start ours unless one is already serving the socket.
    if (!existsSync('/run/munge/munge.socket.2')) {
      mkdirSync('/run/munge', { recursive: true });
      execFileSync('chown', ['munge:munge', '/run/munge']);
      execFileSync('su', ['-s', '/bin/sh', 'munge', '-c', '/usr/sbin/munged']);
      started.push({ name: 'munged', pidFile: '/run/munge/munged.pid' });
    }
    execFileSync('/usr/sbin/slurmctld', ['-f', conf], { env });
    started.push({ name: 'slurmctld', pidFile: `${dir}/slurmctld.pid` });
    execFileSync('/usr/sbin/slurmd', ['-f', conf], { env });
    started.push({ name: 'slurmd', pidFile: `${dir}/slurmd.pid` });
    const deadline = Date.now() + 30_000;
    while (!/idle/.test(spawnSync('sinfo', ['-h', '-o', '%t'], { env, encoding: 'utf8' }).stdout ?? '')) {
      if (Date.now() > deadline) throw new Error(`the Slurm node never became idle: ${readFileSync(`${dir}/log/slurmctld.log`, 'utf8').slice(-2000)}`);
      spawnSync('sleep', ['0.5']);
    }
  }, 60_000);

  afterAll(() => {
    for (const { pidFile } of started.reverse()) {
      if (!existsSync(pidFile)) continue;
      try {
        process.kill(pidOf(pidFile), 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });

  it('4 array tasks + a dependent merge give the bytes of a one-machine run', () => {
    const sweep = ['--grid', '3', '--seeds', '2', '--steps', '60'];
    const submit = spawnSync(join(repo, 'examples/slurm/submit.sh'), ['4', ...sweep], {
      cwd: repo,
      env: { ...env, WAIT: '1', LOGS: dir, OUT: join(dir, 'shards'), RESULTS: join(dir, 'merged') },
      encoding: 'utf8',
    });
    if (submit.status !== 0) throw new Error(`submit.sh failed (${submit.status}): ${submit.stdout}\n${submit.stderr}`);
    for (let k = 0; k < 4; k++) expect(existsSync(join(dir, 'shards', `shard-${k}-of-4.json`)), `shard ${k}`).toBe(true);
    const single = spawnSync('npx', ['tsx', 'scripts/phase-diagram.ts', ...sweep, '--workers', '1', '--out', join(dir, 'single')], { cwd: repo, encoding: 'utf8' });
    expect(single.status, single.stderr).toBe(0);
    expect(readFileSync(join(dir, 'merged', 'results.json'), 'utf8')).toBe(readFileSync(join(dir, 'single', 'results.json'), 'utf8'));
  }, 300_000);
});
