/**
 * Builds and serves the browser test page: test/browser/page.ts bundled with esbuild (the op suites as they
 * are, `vitest` mapped to a small shim, test/helpers.ts to its browser variant), plus gpu.js's own browser
 * build, from a localhost server on a free port.
 */
import type { Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { serveFiles } from '../../scripts/explorer.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

/** Map imports the Node test files make onto browser stand-ins. */
const browserStandIns: Plugin = {
  name: 'browser-stand-ins',
  setup(b) {
    b.onResolve({ filter: /^vitest$/ }, () => ({ path: path.join(here, 'vitest-shim.ts') }));
    // Every test/helpers.ts import except the browser helpers' own re-export of it.
    b.onResolve({ filter: /helpers\.ts$/ }, (args) =>
      args.importer === path.join(here, 'helpers.ts') ? undefined : { path: path.join(here, 'helpers.ts') },
    );
    // gradcheck.test.ts reads its PyTorch fixture with readFileSync: serve the one file it reads, inlined.
    b.onResolve({ filter: /^node:fs$/ }, () => ({ path: 'node:fs', namespace: 'fixture-fs' }));
    b.onLoad({ filter: /.*/, namespace: 'fixture-fs' }, () => ({
      contents: `const golden = ${JSON.stringify(readFileSync(path.join(root, 'test/fixtures/torch_golden.json'), 'utf8'))};
export function readFileSync(url) {
  if (String(url).endsWith('/torch_golden.json')) return golden;
  throw new Error('browser test page: no file ' + url);
}`,
      loader: 'js',
    }));
  },
};

export function bundlePage(): Promise<string> {
  return bundleEntry(path.join(here, 'page.ts'));
}

/** Bundle one browser entry (a page script or a worker) with the stand-ins above. */
export async function bundleEntry(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    // gpu.js comes from gpu-browser.min.js (the `GPU` global); select.ts's import('gpu.js') is never reached.
    external: ['gpu.js', 'crypto'],
    plugins: [browserStandIns],
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

const page = `<!doctype html><meta charset="utf-8"><title>superposition-lab: kernels on gpu.js WebGL</title>
<script src="/gpu-browser.min.js"></script>
<script type="module" src="/bundle.js"></script>`;

/** Serve the page on 127.0.0.1 (a free port); resolves to the server and its URL. */
export async function servePage(bundle: string): Promise<{ server: Server; url: string }> {
  const gpujs = readFileSync(path.join(root, 'node_modules/gpu.js/dist/gpu-browser.min.js'));
  return serveFiles({
    '/': ['text/html', page],
    '/bundle.js': ['text/javascript', bundle],
    '/gpu-browser.min.js': ['text/javascript', gpujs],
  });
}
