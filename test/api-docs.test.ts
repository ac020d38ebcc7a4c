/**
 * The API reference (TypeDoc, typedoc.json) builds without a warning: every type an exported signature names is
 * exported too, every {@link} resolves, and every exported function, class, interface, type, constant and method
 * has a doc comment (validation.notDocumented). A new export that breaks that fails here, not in a user's editor.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('npm run docs:api (TypeDoc, warnings as errors) documents both entry points', () => {
  const out = mkdtempSync(join(tmpdir(), 'api-'));
  execFileSync('npx', ['typedoc', '--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  const index = readFileSync(join(out, 'index.html'), 'utf8');
  expect(index).toContain('index');
  expect(index).toContain('node');
  // a function, a class and a type each have their page
  for (const page of ['functions/index.train.html', 'classes/index.Tensor.html', 'functions/node.runSweep.html']) expect(readFileSync(join(out, page), 'utf8').length, page).toBeGreaterThan(1000);
}, 120_000);
