/**
 * The kernel contract (contract.ts), run on every backend that starts in Node: the reference, gpu.js webasm and
 * gpu.js cpu. test/browser runs the same contract on gpu.js's WebGL backend in headless Chromium.
 */
import { describe, it } from 'vitest';
import { getBackend, withBackend } from '../../src/kernels/registry.ts';
import { nodeBackends } from '../helpers.ts';
import { kernelContract } from './contract.ts';

describe.each(await nodeBackends())('kernels on backend %s', (name) => {
  const k = withBackend(name, getBackend);
  it.each(kernelContract.map((c) => [c.name, c] as const))('%s', (_name, check) => check.run(k));
});

