/**
 * The device side of `gpujs:webgpu` in a browser: a module Web Worker started by webgpu-browser.ts. It picks the
 * browser's WebGPU adapter (high-performance; a software one only when allowed), loads gpu.js's browser build,
 * serves requests with webgpu-bridge.ts's serveDevice, one at a time in the order sent, and writes each answer
 * into the shared blocks before waking the caller. Built as its own script (webgpu-device-worker.js).
 */
import { gpujsGlobal } from './gpujs.ts';
import { CONTROL, STATUS, type DeviceWorkerInit } from './webgpu-browser.ts';
import { inOrder, serveDevice, SOFTWARE_HINT, summarizeAdapter, webgpuInstance, type AdapterInfoLike, type GpuConstructor, type Sequenced, type WebgpuGpu, type WebgpuHello, type WebgpuReply, type WebgpuRequest } from './webgpu-bridge.ts';

interface GpuAdapterLike {
  info?: AdapterInfoLike;
}
interface NavigatorGpu {
  requestAdapter(options?: Record<string, unknown>): Promise<GpuAdapterLike | null>;
}

const scope = globalThis as unknown as {
  onmessage: ((e: { data: unknown }) => void) | null;
  addEventListener(type: 'error' | 'unhandledrejection', listener: () => void): void;
  postMessage(message: unknown): void;
  navigator: { gpu: NavigatorGpu };
};

async function start(init: DeviceWorkerInit): Promise<WebgpuGpu> {
  const gpuApi = scope.navigator.gpu;
  const adapter = await gpuApi.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('the browser gave no WebGPU adapter');
  // GPUAdapter.info is recent (Chrome 127): an older browser's adapter is described as unnamed.
  const summary = summarizeAdapter(adapter.info ?? {}, "the browser's WebGPU");
  if (summary.software && !init.allowSoftware) throw new Error(`only ${summary.description}, a CPU rasteriser; ${SOFTWARE_HINT}`);
  // gpu.js asks navigator.gpu for its adapter: hand it the one chosen above.
  gpuApi.requestAdapter = async () => adapter;
  if (!gpujsGlobal()) await import(/* @vite-ignore */ init.gpujsUrl);
  const gpu = webgpuInstance(gpujsGlobal() as unknown as GpuConstructor);
  scope.postMessage({ ok: true, adapter: summary } satisfies WebgpuHello);
  return gpu;
}

type Incoming = Sequenced<WebgpuRequest> & { data?: SharedArrayBuffer };

scope.onmessage = (first) => {
  const init = first.data as DeviceWorkerInit;
  const ctrl = new Int32Array(init.control);
  let data = init.data;
  // An error that escapes (a crash outside the request chain): tell the blocked caller at once instead of
  // leaving it to its timeout.
  const died = (): void => {
    Atomics.store(ctrl, CONTROL.exited, 1);
    Atomics.store(ctrl, CONTROL.flag, 1);
    Atomics.notify(ctrl, CONTROL.flag);
  };
  scope.addEventListener('error', died);
  scope.addEventListener('unhandledrejection', died);
  const encoder = new TextEncoder();
  const write = (reply: Sequenced<WebgpuReply>): void => {
    if (reply.ok) {
      ctrl[CONTROL.status] = STATUS.ok;
      ctrl[CONTROL.id] = reply.id ?? -1;
      ctrl[CONTROL.outLength] = reply.out ? reply.out.length : -1;
      if (reply.out) {
        if (4 * reply.out.length > data.byteLength) return write({ ok: false, seq: reply.seq, error: `gpujs:webgpu: an answer of ${reply.out.length} floats does not fit the ${data.byteLength}-byte reply block`, unavailable: false });
        new Float32Array(data, 0, reply.out.length).set(reply.out);
      }
    } else {
      const bytes = encoder.encode(reply.error).subarray(0, data.byteLength);
      new Uint8Array(data, 0, bytes.length).set(bytes);
      ctrl[CONTROL.errorBytes] = bytes.length;
      ctrl[CONTROL.status] = reply.unavailable ? STATUS.unavailable : STATUS.error;
    }
    Atomics.store(ctrl, CONTROL.seq, reply.seq);
    Atomics.store(ctrl, CONTROL.flag, 1);
    Atomics.notify(ctrl, CONTROL.flag);
  };
  const pending: Incoming[] = [];
  let answer: ((req: Sequenced<WebgpuRequest>) => void) | null = null;
  const take = (req: Incoming): void => {
    if (req.data) data = req.data; // a larger reply block for this and later answers
    answer!(req);
  };
  scope.onmessage = (e) => (answer ? take(e.data as Incoming) : pending.push(e.data as Incoming));
  start(init).then(
    (gpu) => {
      answer = inOrder(serveDevice(gpu), write);
      for (const req of pending.splice(0)) take(req);
    },
    (e: unknown) => scope.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) } satisfies WebgpuHello),
  );
};
