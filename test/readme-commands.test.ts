/**
 * Every script command the README shows takes the flags and values it is shown with: each runs with --help
 * appended, which parses (and range-checks) every flag before it and then exits 0 without training. A flag that
 * was renamed, or a value out of its range, fails here before a reader meets it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

// Inline code may wrap across lines: read it as one.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8').replace(/\n(?=[^\n`]*`)/g, ' ');
// `npx tsx scripts/NAME.ts FLAGS` in code blocks and inline code, and the table's `paper.ts FLAGS` cells.
const commands = [
  ...[...readme.matchAll(/npx tsx scripts\/([a-z-]+\.ts)((?: --?[a-z][\w-]*(?: [^\s`#|-][^\s`#|]*)?)*)/g)].map((m) => [m[1], m[2].trim()]),
  ...[...readme.matchAll(/`(paper\.ts(?: [^`]+)?)`/g)].map((m) => [m[1].split(' ')[0], m[1].split(' ').slice(1).join(' ')]),
].filter(([, args]) => !/\bNAME\b/.test(args));
const unique = [...new Map(commands.map(([script, args]) => [`${script} ${args}`, [script, args] as const])).values()];

it('the README shows script commands (this test reads them)', () => {
  expect(unique.length).toBeGreaterThan(8);
});

it.each(unique)('scripts/%s %s parses', (script, args) => {
  const r = spawnSync('npx', ['tsx', `scripts/${script}`, ...(args ? args.split(/\s+/) : []), '--help'], { encoding: 'utf8', timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^usage: /);
}, 60_000);
