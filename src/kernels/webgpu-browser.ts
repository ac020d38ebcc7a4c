/**
 * `gpujs:webgpu` in a browser: gpu.js's WebGPU backend in a dedicated device worker (webgpu-device-worker.ts),
 * behind the synchronous kernels interface (webgpu-bridge.ts), for code that already runs in a Web Worker (the
 * explorer's training workers, a test worker).
 *
 * A blocked browser thread cannot read messages, so the answers come back through SharedArrayBuffers: a control
 * block (flag, sequence number, status, id, lengths, exited) and a data block for the result or the error text,
 * which the calling side replaces with a larger one, sent along with the request whose answer would not fit.
 * Requirements, each refused with the reason when missing: a Web Worker (Atomics.wait is not allowed on a page's
 * main thread), cross-origin isolation (SharedArrayBuffer: serve with `Cross-Origin-Opener-Policy: same-origin`
 * and `Cross-Origin-Embedder-Policy: require-corp`), and WebGPU (`navigator.gpu`).
 */
import { BackendUnavailableError } from './registry.ts';
import { awaitHello, Bridge, bridgeKernels, TIMEOUT_MS, type Sequenced, type Transport, type WebgpuHello, type WebgpuKernels, type WebgpuOptions, type WebgpuReply } from './webgpu-bridge.ts';

export interface WebgpuBrowserOptions extends WebgpuOptions {
  /** The device worker's script (default: webgpu-device-worker.js beside the calling worker's script). */
  deviceWorkerUrl?: string;
  /** gpu.js's browser build, which the device worker loads (default: gpu-browser.min.js beside it). */
  gpujsUrl?: string;
}

/** The control block's Int32 slots. */
export const CONTROL = { flag: 0, seq: 1, status: 2, id: 3, outLength: 4, errorBytes: 5, exited: 6, size: 8 } as const;
/** Reply status: ok, an error, or BackendUnavailableError. */
export const STATUS = { ok: 0, error: 1, unavailable: 2 } as const;

/** The device worker's first message. */
export interface DeviceWorkerInit {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
  allowSoftware: boolean;
  gpujsUrl: string;
}

/** The parts of a browser Worker used here (the project type-checks without the DOM library). */
interface BrowserWorker {
  postMessage(message: unknown, transfer?: unknown[]): void;
  terminate(): void;
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: { message?: string }) => void) | null;
}

function sabTransport(port: BrowserWorker, control: SharedArrayBuffer, initial: SharedArrayBuffer, stop: () => void): Transport {
  const ctrl = new Int32Array(control);
  let data = initial;
  return {
    post(req, moved, replyFloats) {
      // Room for the answer (floats) and for an error message; a larger block goes along with this request.
      const need = Math.max(4 * replyFloats, 1 << 16);
      const grown = need > data.byteLength ? new SharedArrayBuffer(Math.max(need, 2 * data.byteLength)) : undefined;
      Atomics.store(ctrl, CONTROL.flag, 0);
      port.postMessage(grown ? { ...req, data: grown } : req, moved);
      if (grown) data = grown; // the device worker takes it with this request, before answering it
    },
    receive(seq, deadline): Sequenced<WebgpuReply> | 'exited' | 'timed out' {
      for (;;) {
        if (Atomics.load(ctrl, CONTROL.exited) === 1) return 'exited';
        if (Atomics.load(ctrl, CONTROL.flag) === 1 && Atomics.load(ctrl, CONTROL.seq) === seq) {
          const status = ctrl[CONTROL.status];
          if (status === STATUS.ok) {
            const n = ctrl[CONTROL.outLength];
            const id = ctrl[CONTROL.id];
            return { ok: true, seq, ...(n >= 0 ? { out: new Float32Array(data, 0, n).slice() } : {}), ...(id >= 0 ? { id } : {}) };
          }
          // TextDecoder refuses views of shared memory: decode a copy.
          const error = new TextDecoder().decode(new Uint8Array(data, 0, ctrl[CONTROL.errorBytes]).slice());
          return { ok: false, seq, error, unavailable: status === STATUS.unavailable };
        }
        const left = deadline - performance.now();
        if (left <= 0 || Atomics.wait(ctrl, CONTROL.flag, 0, left) === 'timed-out') return 'timed out';
      }
    },
    stop,
  };
}

/** Start the device worker and wait for its device; rejects with BackendUnavailableError saying why not. */
export async function createBrowserWebgpuKernels(options: WebgpuBrowserOptions = {}): Promise<WebgpuKernels> {
  const scope = globalThis as { WorkerGlobalScope?: unknown; crossOriginIsolated?: boolean; navigator?: { gpu?: unknown }; location?: { href: string } };
  if (typeof scope.WorkerGlobalScope === 'undefined') {
    throw new BackendUnavailableError("gpujs:webgpu in a browser runs only inside a Web Worker (it blocks with Atomics.wait, which a page's main thread may not); on a page use 'gpujs:gpu' (WebGL)");
  }
  if (!scope.crossOriginIsolated) {
    throw new BackendUnavailableError('gpujs:webgpu in a browser needs cross-origin isolation for SharedArrayBuffer: serve the page with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp');
  }
  if (!scope.navigator?.gpu) throw new BackendUnavailableError('gpujs:webgpu: this browser has no WebGPU (navigator.gpu); Chromium on Linux needs --enable-unsafe-webgpu');
  const base = scope.location?.href ?? '';
  const deviceWorkerUrl = options.deviceWorkerUrl ?? new URL('webgpu-device-worker.js', base).href;
  const init: DeviceWorkerInit = {
    control: new SharedArrayBuffer(4 * CONTROL.size),
    data: new SharedArrayBuffer(1 << 20),
    allowSoftware: options.allowSoftware ?? false,
    gpujsUrl: options.gpujsUrl ?? new URL('gpu-browser.min.js', base).href,
  };
  const WorkerClass = (globalThis as unknown as { Worker: new (url: string, options: { type: 'module' }) => BrowserWorker }).Worker;
  const worker = new WorkerClass(deviceWorkerUrl, { type: 'module' });
  const hello = await awaitHello((resolve) => {
    worker.onmessage = (e) => resolve(e.data as WebgpuHello);
    worker.onerror = (e) => resolve({ ok: false, error: `the device worker failed to start (${e.message || deviceWorkerUrl})` });
    worker.postMessage(init);
  }, options.startTimeoutMs);
  worker.onmessage = null;
  worker.onerror = null;
  if (!hello.ok) {
    worker.terminate();
    throw new BackendUnavailableError(`gpujs:webgpu cannot start: ${hello.error}`);
  }
  const bridge = new Bridge(sabTransport(worker, init.control, init.data, () => worker.terminate()), options.timeoutMs ?? TIMEOUT_MS);
  return bridgeKernels(bridge, hello.adapter);
}
