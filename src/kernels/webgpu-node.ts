/**
 * `gpujs:webgpu` in Node: gpu.js's WebGPU backend (Dawn, from the `webgpu` package) in a worker thread
 * (webgpu-worker.ts), behind the synchronous kernels interface (webgpu-bridge.ts). The transport: requests and
 * replies on a MessagePort; this thread blocks on a shared flag with Atomics.wait until the worker has posted,
 * then takes the reply with receiveMessageOnPort. The round trip costs ~36 us (measured against a worker that
 * answers at once, on the 2-core machine of the README) beyond the GPU's own upload, dispatch and read-back (a
 * 1x1x1 product on Mesa llvmpipe: ~400 us), so the backend only pays on products large enough for a GPU to
 * matter; `auto` measures that per shape.
 *
 * Node only (worker_threads, Atomics.wait on the main thread): select.ts loads this file only when gpujs:webgpu
 * is asked for in Node.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { BackendUnavailableError } from './registry.ts';
import { awaitHello, Bridge, bridgeKernels, TIMEOUT_MS, type Sequenced, type Transport, type WebgpuKernels, type WebgpuOptions, type WebgpuReply } from './webgpu-bridge.ts';
import { moduleFile } from '../module-file.ts';

export type { WebgpuKernels, WebgpuOptions as WebgpuNodeOptions };

/** What the device worker gets: the reply port, the shared flags, whether a software adapter will do. */
export interface WebgpuWorkerData {
  port: MessagePort;
  /** Int32Array[2]: [0] set to 1 and notified after each answer is posted on `port`; [1] set to 1 when the worker exits. */
  control: SharedArrayBuffer;
  allowSoftware: boolean;
}

/** Replies on a MessagePort, read synchronously; the flag says when to look. */
function portTransport(port: MessagePort, control: SharedArrayBuffer, stop: () => void): Transport {
  const done = new Int32Array(control);
  return {
    post: (req, moved) => port.postMessage(req, moved),
    receive(seq, deadline) {
      // The flag is reset before each look at the port, so an answer posted between the look and the wait makes
      // the wait return at once.
      for (;;) {
        Atomics.store(done, 0, 0);
        const reply = receiveMessageOnPort(port)?.message as Sequenced<WebgpuReply> | undefined;
        if (reply?.seq === seq) return reply;
        if (reply) continue; // a stray answer to an earlier call: never taken for this one
        if (Atomics.load(done, 1) === 1) return 'exited';
        const left = deadline - performance.now();
        if (left <= 0 || Atomics.wait(done, 0, 0, left) === 'timed-out') return 'timed out';
      }
    },
    stop,
  };
}

/** Start the WebGPU worker and wait for its device; rejects with BackendUnavailableError saying why not. */
export async function createWebgpuKernels(options: WebgpuOptions = {}): Promise<WebgpuKernels> {
  const allowSoftware = options.allowSoftware ?? process.env.SUPERPOSITION_WEBGPU_SOFTWARE === '1';
  // Mesa's EGL picks its platform from the process environment, which only the main thread can change (a worker
  // thread's process.env is its own copy); 'surfaceless' needs no display (the software OpenGL ES path). It stays
  // set: sweep worker threads open their own devices later, and they cannot set it themselves.
  if (allowSoftware && !process.env.EGL_PLATFORM && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) process.env.EGL_PLATFORM = 'surfaceless';
  const { port1, port2 } = new MessageChannel();
  const control = new SharedArrayBuffer(8);
  const workerData: WebgpuWorkerData & { entry: string } = { entry: moduleFile('./webgpu-worker', import.meta.url).href, port: port2, control, allowSoftware };
  const worker = new Worker(new URL('../worker-boot.mjs', import.meta.url), { workerData, transferList: [port2] });
  const hello = await awaitHello((resolve) => {
    worker.once('message', resolve);
    worker.once('error', (e) => resolve({ ok: false, error: e.message }));
    worker.once('exit', (code) => resolve({ ok: false, error: `the WebGPU worker exited (code ${code}) before it had a device` }));
  }, options.startTimeoutMs);
  worker.removeAllListeners();
  if (!hello.ok) {
    await worker.terminate();
    throw new BackendUnavailableError(`gpujs:webgpu cannot start: ${hello.error}`);
  }
  const bridge = new Bridge(portTransport(port1, control, () => void worker.terminate()), options.timeoutMs ?? TIMEOUT_MS);
  // An error in the worker after start-up must not crash this process through an unhandled 'error' event: it
  // closes the backend, and the next call says so. Neither listener keeps the unref'd worker alive.
  worker.on('error', (e) => (bridge.exited ??= `exited (${e.message})`));
  worker.on('exit', () => (bridge.exited ??= 'exited'));
  // The worker (and Dawn inside it) must not keep a finished script alive.
  worker.unref();
  port1.unref();
  return bridgeKernels(bridge, hello.adapter);
}

