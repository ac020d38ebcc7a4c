/** `npm run explorer` stops its server when npm is killed: no orphan left listening. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('killing npm (SIGKILL, so it cannot pass anything on) stops the server within seconds', async () => {
  const out = mkdtempSync(join(tmpdir(), 'explorer-'));
  const npm = spawn('npm', ['run', 'explorer', '--', '--port', '0', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  npm.stdout.on('data', (d: Buffer) => (text += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /open (http:\/\/\S+) /.exec(text);
      if (m) {
        clearInterval(timer);
        resolve(m[1]);
      }
    }, 100);
    npm.once('exit', () => reject(new Error(`npm exited early: ${text}`)));
  });
  expect((await fetch(url)).status).toBe(200);
  npm.kill('SIGKILL');
  const deadline = Date.now() + 10_000;
  let refused = false;
  while (!refused && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    refused = await fetch(url).then(() => false, () => true);
  }
  expect(refused).toBe(true);
}, 90_000);
