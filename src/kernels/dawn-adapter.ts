/**
 * The WebGPU adapter for gpu.js in Node: Dawn (the `webgpu` package), with its default backends (Vulkan on
 * Linux) and a high-performance preference; a software adapter (Dawn's fallback flag, or llvmpipe/lavapipe/
 * SwiftShader by name) is refused unless the caller allowed it, and only then is Dawn's OpenGL ES backend tried
 * too (Mesa llvmpipe through EGL, which needs no display: how CI exercises this path on a machine without a
 * GPU). The chosen adapter becomes navigator.gpu's, where gpu.js looks for it. Used by the device worker
 * (webgpu-worker.ts) and by scripts/bench-device.ts, which drives a device in its own thread.
 */
import { SOFTWARE_HINT, summarizeAdapter, type AdapterInfoLike, type AdapterSummary } from './webgpu-bridge.ts';

interface AdapterLike {
  info: AdapterInfoLike;
}
interface DawnModule {
  create(flags: string[]): { requestAdapter(options?: Record<string, unknown>): Promise<AdapterLike | null> };
  globals: Record<string, unknown>;
}

let dawnInstance: ReturnType<DawnModule['create']> | null = null;

export async function chooseAdapter(allowSoftware: boolean): Promise<{ adapter: AdapterLike; summary: AdapterSummary }> {
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    throw new Error(`the 'webgpu' package (Dawn for Node) cannot be loaded (${(e as Error).message}); install it with npm install webgpu@0.6.2 (needs glibc >= 2.34)`);
  }
  Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode, ... which gpu.js reads as globals
  const attempts: { backend: string; flags: string[]; options: Record<string, unknown> }[] = [
    { backend: 'Dawn default (Vulkan/Metal/D3D12)', flags: [], options: { powerPreference: 'high-performance' } },
  ];
  if (allowSoftware) attempts.push({ backend: 'Dawn OpenGL ES', flags: ['backend=opengles'], options: { featureLevel: 'compatibility' } });
  const refused: string[] = [];
  for (const { backend, flags, options } of attempts) {
    // Keep the Dawn instance referenced for the worker's life: once it is collected, the adapter and device made
    // from it crash the process (segfault) at the next dispatch.
    dawnInstance = dawn.create(flags);
    const adapter = await dawnInstance.requestAdapter(options);
    if (!adapter) {
      refused.push(`${backend}: no adapter`);
      continue;
    }
    const summary = summarizeAdapter(adapter.info, backend);
    if (summary.software && !allowSoftware) {
      refused.push(`${backend}: only ${summary.description}, a CPU rasteriser`);
      continue;
    }
    // gpu.js asks navigator.gpu for its adapter: hand it this one.
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu: { requestAdapter: async () => adapter, getPreferredCanvasFormat: () => 'rgba8unorm' } },
      configurable: true,
      writable: true,
    });
    return { adapter, summary };
  }
  const hint = allowSoftware
    ? "install an NVIDIA driver with its Vulkan ICD, or for testing Mesa's EGL/GLES drivers (Debian: libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri) for the software OpenGL ES path"
    : `install an NVIDIA driver with its Vulkan ICD, or ${SOFTWARE_HINT}`;
  throw new Error(`no WebGPU adapter${allowSoftware ? '' : ' on a GPU'} (${refused.join('; ')}); ${hint}`);
}
