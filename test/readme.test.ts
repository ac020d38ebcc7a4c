/** The README's autograd example, run as written (with the package name mapped to src/index.ts). */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import * as sl from '../src/index.ts';

it('the README autograd example runs and its gradcheck passes', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const code = readme.match(/```ts\n(import[\s\S]*?)```/)![1];
  const body = code
    .replace(/^import .*$/m, '')
    .replace(/: Tensor/g, '')
    .replace(/lossOf\(W, b\)\.backward\(\);/, '$&\nresult.grads = [W.grad, b.grad];')
    .replace(/gradcheck\(lossOf, \[W, b\]\)\.ok;/, 'result.ok = gradcheck(lossOf, [W, b]).ok;');
  const result: { ok?: boolean; grads?: unknown[] } = {};
  new Function('sl', 'result', `const { ${Object.keys(sl).join(', ')} } = sl;\n${body}`)(sl, result);
  expect(result.ok).toBe(true);
  expect(result.grads!.every((g) => g instanceof sl.Tensor)).toBe(true);
});
