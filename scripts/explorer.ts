/**
 * The browser explorer: builds explorer/ into a static folder (the page, its module bundle with vega and
 * vega-lite inside, the Web Worker bundle, gpu.js's browser build) that works from any static host, and serves
 * it on localhost.
 *
 *   npm run explorer                                  # build into dist/explorer and serve on http://127.0.0.1:8080
 *   npx tsx scripts/explorer.ts --port 0 --out DIR    # another folder, a free port
 *   npx tsx scripts/explorer.ts --build-only          # just the folder, for a static host
 */
import { copyFileSync, lstatSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { flagsOrExit, parseFlags } from '../src/cli.ts';
import { isAlive, procStat } from '../src/processes.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Build the explorer into `out`: index.html, main.js (the page), worker.js (the Web Worker), the WebGPU device
 * worker and gpu.js's browser build. Returns the files it wrote (paths relative to `out`): what the explorer's
 * server may serve.
 */
export async function buildExplorer(out: string): Promise<string[]> {
  mkdirSync(out, { recursive: true });
  const result = await build({
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
    metafile: true,
  });
  copyFileSync(path.join(root, 'explorer/index.html'), path.join(out, 'index.html'));
  copyFileSync(path.join(root, 'node_modules/gpu.js/dist/gpu-browser.min.js'), path.join(out, 'gpu-browser.min.js'));
  const built = Object.keys(result.metafile.outputs).map((f) => path.relative(out, path.resolve(f)));
  return [...built, 'index.html', 'gpu-browser.min.js'];
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.json': 'application/json' };

/**
 * The headers that make a page cross-origin isolated, which SharedArrayBuffer (and so gpujs:webgpu in the
 * workers) needs; the explorer loads nothing from other origins, so they cost nothing.
 */
export const CROSS_ORIGIN_ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

export interface ServeOptions {
  /** Serve only these files (paths relative to the folder, e.g. what buildExplorer returns). */
  files?: readonly string[];
  /** The address to listen on (default 127.0.0.1: this machine only). */
  host?: string;
}

/**
 * Serve a folder (port 0: a free one); resolves to the server and its URL. Only GET and HEAD (405 otherwise);
 * never a dotfile or a path through a dotted folder, never a file outside the folder (symlinks are resolved
 * first), and with `files` only those.
 */
export function serveFolder(dir: string, port: number, options: ServeOptions = {}): Promise<{ server: Server; url: string }> {
  const base = realpathSync(path.resolve(dir));
  const allowed = options.files ? new Set(options.files.map((f) => path.normalize(f))) : null;
  return listen(
    createServer((req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end('method not allowed');
        return;
      }
      try {
        const rel = path.normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname).replace(/\/$/, '/index.html')).replace(/^[/\\]+/, '');
        const hiddenIn = (p: string) => p.split(/[/\\]/).some((part) => part.startsWith('.'));
        const file = path.join(base, rel);
        let real: string | null = null;
        if (!hiddenIn(rel) && (allowed === null || allowed.has(rel)) && lstatSync(file, { throwIfNoEntry: false })) {
          try {
            real = realpathSync(file);
          } catch {
            real = null; // a dangling symlink: nothing to serve
          }
        }
        if (real === null || !real.startsWith(base + path.sep) || hiddenIn(path.relative(base, real)) || !lstatSync(real).isFile()) {
          res.writeHead(404).end('not found');
          return;
        }
        const body = readFileSync(real);
        res.writeHead(200, { ...CROSS_ORIGIN_ISOLATED, 'content-type': TYPES[path.extname(real)] ?? 'application/octet-stream', 'content-length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch {
        res.writeHead(400).end('bad request'); // e.g. a malformed %-escape
      }
    }),
    port,
    options.host,
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

function listen(server: Server, port: number, host = '127.0.0.1'): Promise<{ server: Server; url: string }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      const shown = host.includes(':') ? `[${host}]` : host;
      resolve({ server, url: `http://${shown}:${typeof address === 'object' && address ? address.port : port}/` });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flags = flagsOrExit('explorer', () =>
    parseFlags(process.argv.slice(2), {
      out: { kind: 'string', default: 'dist/explorer', help: 'folder to build into' },
      port: { kind: 'number', default: 8080, min: 0, max: 65535, integer: true, help: 'port to listen on (0: a free one)' },
      host: { kind: 'string', default: '127.0.0.1', help: 'address to listen on (0.0.0.0 serves other machines too)' },
      'build-only': { kind: 'boolean', default: false, help: 'build the folder and exit' },
    }, 'usage: npx tsx scripts/explorer.ts [flags]   build the browser explorer into a static folder and serve it on localhost'),
  );
  const out = path.resolve(flags.out);
  const files = await buildExplorer(out);
  console.log(`explorer: built ${out} (static: serve it from any web server)`);
  if (!flags['build-only']) {
    // The server serves the files of this build only (never whatever else --out holds).
    const served = await serveFolder(out, flags.port, { files, host: flags.host }).catch((e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? `port ${flags.port} is in use` : e.code === 'EADDRNOTAVAIL' ? `${flags.host} is not an address of this machine` : e.message;
      console.error(`explorer: cannot listen on ${flags.host}:${flags.port}: ${why}; choose another with --port N (0 picks a free one)${e.code === 'EADDRNOTAVAIL' ? ' or --host' : ''}`);
      process.exit(2);
    });
    console.log(`explorer: open ${served.url} (Ctrl-C stops)`);
    stopWithParents(() => served.server.close());
  }
}

/**
 * Stop when asked (Ctrl-C, kill) or when any process that started this one dies: `npm run explorer` runs npm,
 * a shell and tsx above this process, and killing npm used to leave the server running, orphaned.
 */
function stopWithParents(close: () => void): void {
  const stop = (why: string): void => {
    console.log(`explorer: stopping (${why})`);
    close();
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => stop(signal));
  const ancestors = ancestorPids();
  setInterval(() => {
    const gone = ancestors.find((pid) => !isAlive(pid));
    if (gone !== undefined) stop(`process ${gone} that started it has exited`);
  }, 500).unref();
}

/**
 * The launcher chain above this process (npm, npx, the shell npm starts, tsx), from /proc where there is one,
 * else the parent alone. It stops at the first other process (the user's shell): a server started with nohup
 * outlives its terminal, as it should.
 */
function ancestorPids(): number[] {
  const pids: number[] = [];
  let pid = process.ppid;
  while (pid > 1 && pids.length < 8) {
    const stat = procStat(pid);
    if (stat === null) {
      if (pids.length === 0) pids.push(pid); // no /proc: the parent alone
      break;
    }
    if (!/^(node|npm|npx|sh|tsx)\b/.test(stat.comm)) break;
    pids.push(pid);
    pid = stat.ppid;
  }
  return pids;
}
