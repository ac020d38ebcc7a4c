/**
 * The browser explorer: builds explorer/ into a static folder (the page, its module bundle with vega and
 * vega-lite inside, the Web Worker bundle, gpu.js's browser build) that works from any static host, and serves
 * it on localhost.
 *
 *   npm run explorer                                  # build into dist/explorer and serve on http://127.0.0.1:8080
 *   npx tsx scripts/explorer.ts --port 0 --out DIR    # another folder, a free port
 *   npx tsx scripts/explorer.ts --build-only          # just the folder, for a static host
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { FlagError, flagsOrExit, parseFlags } from '../src/cli.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Build the explorer into `out`: index.html, main.js (the page), worker.js (the Web Worker). */
export async function buildExplorer(out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: {
      main: path.join(root, 'explorer/main.ts'),
      worker: path.join(root, 'explorer/worker.ts'),
      // gpujs:webgpu's device worker, started by the training workers from beside them.
      'webgpu-device-worker': path.join(root, 'src/kernels/webgpu-device-worker.ts'),
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: out,
    minify: true,
    // The workers load gpu.js's browser build (copied beside them) for the gpujs backend, never the npm package.
    external: ['gpu.js'],
    logLevel: 'silent',
  });
  copyFileSync(path.join(root, 'explorer/index.html'), path.join(out, 'index.html'));
  copyFileSync(path.join(root, 'node_modules/gpu.js/dist/gpu-browser.min.js'), path.join(out, 'gpu-browser.min.js'));
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.json': 'application/json' };

/**
 * The headers that make a page cross-origin isolated, which SharedArrayBuffer (and so gpujs:webgpu in the
 * workers) needs; the explorer loads nothing from other origins, so they cost nothing.
 */
export const CROSS_ORIGIN_ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/** Serve a folder on 127.0.0.1 (port 0: a free one); resolves to the server and its URL. */
export function serveFolder(dir: string, port: number): Promise<{ server: Server; url: string }> {
  const base = path.resolve(dir);
  return listen(
    createServer((req, res) => {
      try {
        const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname).replace(/\/$/, '/index.html');
        const file = path.join(base, path.normalize(rel));
        if (!file.startsWith(base + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
          res.writeHead(404).end('not found');
          return;
        }
        res.writeHead(200, { ...CROSS_ORIGIN_ISOLATED, 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
      } catch {
        res.writeHead(400).end('bad request'); // e.g. a malformed %-escape
      }
    }),
    port,
  );
}

/** Files held in memory, by URL path: [content type, body]. */
export type Files = Record<string, [string, string | Buffer]>;

/**
 * Serve in-memory files on 127.0.0.1 (port 0: a free one), for generated test and benchmark pages; `headers` go
 * on every response (e.g. the cross-origin isolation that SharedArrayBuffer needs).
 */
export function serveFiles(files: Files, port = 0, headers: Record<string, string> = {}): Promise<{ server: Server; url: string }> {
  return listen(
    createServer((req, res) => {
      const file = files[req.url ?? ''];
      res.writeHead(file ? 200 : 404, { ...headers, 'content-type': file ? file[0] : 'text/plain' }).end(file ? file[1] : 'not found');
    }),
    port,
  );
}

function listen(server: Server, port: number): Promise<{ server: Server; url: string }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/` });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flags = flagsOrExit('explorer', () =>
    parseFlags(process.argv.slice(2), {
      out: { kind: 'string', default: 'dist/explorer', help: 'folder to build into' },
      port: { kind: 'number', default: 8080, min: 0, max: 65535, integer: true, help: 'port on 127.0.0.1 (0: a free one)' },
      'build-only': { kind: 'boolean', default: false, help: 'build the folder and exit' },
    }),
  );
  const out = path.resolve(flags.out);
  await buildExplorer(out);
  console.log(`explorer: built ${out} (static: serve it from any web server)`);
  if (!flags['build-only']) {
    const { url } = await serveFolder(out, flags.port).catch((e: Error) => {
      throw new FlagError(`--port ${flags.port}: cannot listen (${e.message})`);
    });
    console.log(`explorer: open ${url} (Ctrl-C stops)`);
  }
}
