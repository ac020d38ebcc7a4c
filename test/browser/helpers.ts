/**
 * test/helpers.ts for the browser bundle: everything as in Node, except that the suites run on gpu.js's GPU
 * (WebGL) backend instead of the Node ones. The bundler maps every import of test/helpers.ts here.
 */
export * from '../helpers.ts';
import { useBackend } from '../../src/kernels/select.ts';

export async function nodeBackends(): Promise<string[]> {
  await useBackend('gpujs:gpu');
  await useBackend('js');
  return ['gpujs:gpu'];
}
