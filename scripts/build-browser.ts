/**
 * The browser build: src/index.ts (autograd, kernels, toy models, theory, labels; no Node built-ins) bundled
 * as one ES module with esbuild. gpu.js is left out of the bundle: load its browser build beside it
 * (node_modules/gpu.js/dist/gpu-browser.min.js) to use the gpu.js backend in a page.
 *
 *   npx tsx scripts/build-browser.ts [--out dist/superposition-lab.browser.mjs] [--minify]
 */
import { build } from 'esbuild';
import { parseFlags } from '../src/cli.ts';

export async function buildBrowser(outfile: string, minify: boolean): Promise<void> {
  await build({
    entryPoints: [new URL('../src/index.ts', import.meta.url).pathname],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile,
    minify,
    external: ['gpu.js'],
    logLevel: 'silent',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flags = parseFlags(process.argv.slice(2), {
    out: { kind: 'string', default: 'dist/superposition-lab.browser.mjs', help: 'the bundle to write' },
    minify: { kind: 'boolean', default: false, help: 'minify the bundle' },
  }, 'usage: npx tsx scripts/build-browser.ts [flags]   bundle the library (no Node built-ins) as one ES module for the browser');
  await buildBrowser(flags.out, flags.minify);
  console.log(`wrote ${flags.out}`);
}
