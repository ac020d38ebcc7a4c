/** scripts/report.ts draws a results file's report again from the file alone, keeping its bytes and manifest. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('redraws in place or into --out without touching results.json, and refuses an edited file naming the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-'));
  const run = (script: string, ...args: string[]) => spawnSync('npx', ['tsx', `scripts/${script}.ts`, ...args], { encoding: 'utf8', timeout: 120_000 });
  expect(run('phase-diagram', '--grid', '3', '--seeds', '1', '--steps', '20', '--workers', '1', '--out', join(dir, 'a')).status).toBe(0);
  const original = readFileSync(join(dir, 'a', 'results.json'), 'utf8');
  const redrawn = run('report', join(dir, 'a', 'results.json'), '--out', join(dir, 'b'));
  expect(redrawn.stderr).toBe('');
  expect(redrawn.stdout).toContain(`report: wrote `);
  expect(readFileSync(join(dir, 'b', 'results.json'), 'utf8')).toBe(original);
  for (const f of ['index.html', 'phase-diagram.svg', 'phase-diagram.png']) expect(existsSync(join(dir, 'b', f)), f).toBe(true);
  const { manifest } = JSON.parse(original);
  expect(readFileSync(join(dir, 'b', 'index.html'), 'utf8')).toContain(`<tr><th>manifest.resultsHash</th><td>${manifest.resultsHash}</td></tr>`);
  expect(run('report', join(dir, 'a')).status).toBe(0);
  expect(readFileSync(join(dir, 'a', 'results.json'), 'utf8')).toBe(original);
  const edited = JSON.parse(original);
  edited.config.steps = 1e12;
  writeFileSync(join(dir, 'a', 'results.json'), JSON.stringify(edited));
  const refused = run('report', join(dir, 'a'));
  expect(refused.status).toBe(1);
  expect(refused.stderr.trim()).toBe(`report: ${join(dir, 'a', 'results.json')}: config.steps: expected an integer in 1..10000000, found 1000000000000`);
}, 240_000);
