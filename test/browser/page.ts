/**
 * The browser page's entry: loads the kernel contract, the op suite and the gradient checks (the same files
 * vitest runs in Node) with gpu.js's WebGL backend as the backend under test, runs them, and reports, with the
 * facts about the WebGL context that make the results meaningful (kernel class, precision, float render
 * targets, renderer). Bundled by test/browser/bundle.ts; gpu-browser.min.js provides the `GPU` global.
 */
import { runCollected, type TestResult } from './vitest-shim.ts';
import { getBackend, setBackend } from '../../src/kernels/registry.ts';
import { useBackend } from '../../src/kernels/select.ts';
import type { GpujsKernels } from '../../src/kernels/gpujs.ts';

export interface PageReport {
  webgl2: boolean;
  floatRenderTargets: boolean;
  renderer: string;
  backend: string;
  kernelClass: string;
  precision: string;
  cachedKernels: number;
  results: TestResult[];
}

/** The few WebGL calls used here (the project compiles without the DOM typings). */
interface GL {
  RENDERER: number;
  getExtension(name: string): { UNMASKED_RENDERER_WEBGL: number } | null;
  getParameter(p: number): unknown;
}
declare const document: { createElement(tag: 'canvas'): { getContext(kind: 'webgl2'): GL | null } };

function glFacts(): Pick<PageReport, 'webgl2' | 'floatRenderTargets' | 'renderer'> {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return { webgl2: false, floatRenderTargets: false, renderer: 'none' };
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  return {
    webgl2: true,
    floatRenderTargets: gl.getExtension('EXT_color_buffer_float') !== null,
    renderer: String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER)),
  };
}

async function runSuite(): Promise<PageReport> {
  const facts = glFacts();
  const gpu = (await useBackend('gpujs:gpu')) as GpujsKernels;
  setBackend('js');
  await import('../kernels/backends.test.ts');
  await import('../autograd/ops.test.ts');
  await import('../autograd/gradcheck.test.ts');
  const results = await runCollected(/gpujs:gpu/);
  return {
    ...facts,
    backend: gpu.name,
    kernelClass: gpu.kernelClass,
    precision: gpu.precision,
    cachedKernels: gpu.cachedKernels,
    results,
  };
}

(globalThis as { runSuite?: typeof runSuite; activeBackend?: () => string }).runSuite = runSuite;
(globalThis as { activeBackend?: () => string }).activeBackend = () => getBackend().name;
