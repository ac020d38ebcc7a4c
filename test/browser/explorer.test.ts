/**
 * The explorer in headless Chromium: the page loads with no request leaving localhost, a small 2x1 sweep trains
 * in Web Workers and fills the phase diagram, its exported results.json equals the command line's for the same
 * flags byte for byte (the manifest aside, which names the environment; its results hash is the same), a
 * results.json made by the CLI imports, and screenshots of the page are written and are not blank. Skipped,
 * with the reason printed, where Chromium is not installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExplorer, serveFolder } from '../../scripts/explorer.ts';
import { CHROMIUM } from './chromium.ts';

if (!CHROMIUM) console.log('test/browser: explorer skipped: no Chromium at /usr/bin/chromium (Debian: apt-get install chromium)');

/** Where the screenshots go (kept after the run, for a person to look at). */
const SHOTS = path.resolve('out/explorer-screenshots');
const FLAGS = { experiment: 'feature-2x1', grid: 6, seeds: 3, steps: 400, batch: 128, seed: 3 } as const;

describe.skipIf(!CHROMIUM)('explorer in headless Chromium', () => {
  let server: Server | undefined;
  let profile = '';
  const foreign: string[] = [];
  const pageErrors: string[] = [];
  let exported = '';
  let cliJson = '';
  let imported: { cells: number; headline: string; refusals: string[] } = { cells: 0, headline: '', refusals: [] };
  let svgRects = 0;
  let initialStatus = '';
  let form: { limits: Record<string, string>; error: string } = { limits: {}, error: '' };
  let selection = { title: '', outlined: 0, figures: 0 };
  let figures: Array<{ name: string; svg: string; png: string; pngLength: number }> = [];
  let stopResume: { outcome: string; cells: number; status: string } = { outcome: '', cells: 0, status: '' };
  let watchdog = '';
  let gpu: { status: string; js: number[]; gpujs: number[]; webgpuStatus: string; webgpu: number[] } = { status: '', js: [], gpujs: [], webgpuStatus: '', webgpu: [] };
  type Sweep = { regimes: string[]; all: number; away: number; status: string; seconds: number };
  let defaults: { device: Sweep; js: Sweep } | null = null;
  let isolated = false;

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sl-explorer-'));
    await buildExplorer(path.join(dir, 'site'));
    const served = await serveFolder(path.join(dir, 'site'), 0);
    server = served.server;
    // The command line, same flags, reference backend.
    const out = path.join(dir, 'cli');
    const argv = Object.entries(FLAGS).flatMap(([k, v]) => [`--${k}`, String(v)]);
    const cli = spawnSync('npx', ['tsx', 'scripts/phase-diagram.ts', ...argv, '--backend', 'js', '--workers', '1', '--out', out], { encoding: 'utf8' });
    if (cli.status !== 0) throw new Error(`phase-diagram failed: ${cli.stderr}`);
    cliJson = readFileSync(path.join(out, 'results.json'), 'utf8');

    const { chromium } = await import('playwright-core');
    profile = path.join(dir, 'profile');
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 1000 },
      args: ['--no-sandbox', '--disable-gpu', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    try {
      await context.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') return route.continue();
        foreign.push(url.href);
        return route.abort();
      });
      const page = await context.newPage();
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(served.url);
      await page.waitForFunction(() => 'explorer' in globalThis, undefined, { timeout: 30_000 });
      isolated = await page.evaluate(() => (globalThis as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated);
      // The status line gains what WebGPU offers once the adapter request answers.
      await page.waitForFunction(() => /WebGPU/.test((globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById('status-text').textContent), undefined, { timeout: 10_000 });
      initialStatus = await page.evaluate(() => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById('status-text').textContent);
      // The form's limits are the flags' ranges, and an empty field is named, not read as 0.
      form = await page.evaluate(() => {
        type Input = { value: string; max: string; min: string; click(): void; textContent: string };
        const $ = (id: string) => (globalThis as unknown as { document: { getElementById(id: string): Input } }).document.getElementById(id);
        const limits = { grid: `${$('grid').min}..${$('grid').max}`, seeds: `${$('seeds').min}..${$('seeds').max}` };
        const steps = $('steps').value;
        $('steps').value = '';
        $('run').click();
        const error = $('error').textContent;
        $('steps').value = steps;
        $('error').textContent = '';
        return { limits, error };
      });
      type Api = { run(o: object): Promise<unknown>; exportJson(): Promise<string>; importJson(t: string): Promise<{ cells: unknown[] }>; drawn(): Promise<void> };
      await page.evaluate((flags) => (globalThis as unknown as { explorer: Api }).explorer.run({ ...flags, backend: 'js', workers: 2 }), FLAGS);
      await page.evaluate(() => (globalThis as unknown as { explorer: Api }).explorer.drawn());
      // A click on a cell outlines it and shows every seed's model.
      await page.locator('#figures svg .mark-rect path').first().click();
      await page.waitForFunction((seeds) => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('#detail figure svg').length === seeds, FLAGS.seeds, { timeout: 10_000 });
      selection = await page.evaluate(() => {
        const doc = (globalThis as unknown as { document: { getElementById(id: string): { textContent: string }; querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }> } }).document;
        const outlined = Array.from(doc.querySelectorAll('#figures svg path')).filter((p) => p.getAttribute('stroke') === '#ffd400').length;
        return { title: doc.getElementById('detail-title').textContent, outlined, figures: doc.querySelectorAll('#detail figure').length };
      });
      exported = await page.evaluate(() => (globalThis as unknown as { explorer: Api }).explorer.exportJson());
      figures = await page.evaluate(async () => (await (globalThis as unknown as { explorer: { exportFigures(): Promise<Array<{ name: string; svg: string; png: string }>> } }).explorer.exportFigures()).map((f) => ({ name: f.name, svg: f.svg.slice(0, 4), png: f.png.slice(0, 22), pngLength: f.png.length })));
      svgRects = await page.evaluate(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('#figures svg path, #figures svg rect').length);
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, 'phase-diagram.png'), fullPage: true });
      // Click a cell of the empirical diagram: its best model appears below.
      const cell = page.locator('#figures svg g.mark-rect path').first();
      await cell.click({ force: true });
      await page.waitForFunction(() => ((globalThis as unknown as { document: { querySelector(s: string): { innerHTML: string } | null } }).document.querySelector('#detail')?.innerHTML.length ?? 0) > 100, undefined, { timeout: 10_000 });
      await page.screenshot({ path: path.join(SHOTS, 'cell-detail.png'), fullPage: true });
      imported = await page.evaluate(async (text) => {
        const api = (globalThis as unknown as { explorer: Api }).explorer;
        // Hostile files first: each refused with the field named, and none blocks the good import after it.
        const refusals: string[] = [];
        const doc0 = JSON.parse(text);
        for (const bad of [{ ...doc0, experiment: 'toString' }, { ...doc0, agreement: null, cells: [...doc0.cells, ...doc0.cells] }, '{"experiment": "feature-2x1", "con']) {
          await api.importJson(typeof bad === 'string' ? bad : JSON.stringify(bad)).catch((e: Error) => refusals.push(e.message));
        }
        const r = await api.importJson(text);
        await api.drawn();
        const doc = globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } };
        return { cells: r.cells.length, headline: doc.document.getElementById('headline').textContent, refusals };
      }, cliJson);
      await page.screenshot({ path: path.join(SHOTS, 'imported.png'), fullPage: true });
      // Stop in the middle: the run's promise rejects with 'stopped'; resume trains the rest to 100%.
      stopResume = await page.evaluate(async () => {
        const api = (globalThis as unknown as { explorer: Api & { stop(): void; resume(): Promise<{ cells: unknown[] }> } }).explorer;
        const running = api.run({ experiment: 'feature-2x1', grid: 6, seeds: 2, steps: 2000, batch: 64, backend: 'js', workers: 2 });
        await new Promise((r) => setTimeout(r, 400));
        api.stop();
        const outcome = await running.then(() => 'finished', (e: Error) => e.message);
        const r = await api.resume();
        const doc = globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } };
        return { outcome, cells: r.cells.length, status: doc.document.getElementById('status-text').textContent };
      });
      // A worker that stays silent past the watchdog is replaced and its chunk retried once, then the run fails
      // with the reason (here every chunk outlasts a 0.5 s watchdog: 40 steps of 100 -> 40 report nothing).
      watchdog = await page.evaluate(() =>
        (globalThis as unknown as { explorer: Api }).explorer
          .run({ experiment: 'computation', seeds: 1, steps: 40, batch: 1024, backend: 'js', workers: 1, watchdogSeconds: 0.5 })
          .then(() => 'finished', (e: Error) => e.message),
      );
      // The neuron sweep (10 -> 5, ReLU hidden layer) has matmuls on every step: on js, then on gpu.js's WebGL
      // backend in the Web Workers (OffscreenCanvas; SwiftShader here).
      gpu = await page.evaluate(async () => {
        const api = (globalThis as unknown as { explorer: Api }).explorer;
        const losses = async (backend: string) => ((await api.run({ experiment: 'neuron', seeds: 1, steps: 30, batch: 32, backend, workers: 2, allowSoftwareGpu: true })) as { cells: Array<{ loss: number }> }).cells.map((c) => c.loss);
        const doc = globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } };
        const js = await losses('js');
        const gpujs = await losses('gpujs:gpu');
        const status = doc.document.getElementById('status-text').textContent;
        // gpu.js's WebGPU backend: each Web Worker starts its own device worker (SwiftShader's adapter here,
        // allowed for the test).
        const webgpu = await losses('gpujs:webgpu');
        return { status, js, gpujs, webgpuStatus: doc.document.getElementById('status-text').textContent, webgpu };
      });
      // The default 2x1 phase diagram (the CLI's defaults) on the WebGL2 device trainer and on js autograd.
      defaults = await page.evaluate(async () => {
        const api = (globalThis as unknown as { explorer: Api }).explorer;
        const doc = globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } };
        const sweep = async (backend: string) => {
          const start = performance.now();
          const r = (await api.run({ experiment: 'feature-2x1', backend, workers: 2 })) as { cells: Array<{ regime: string }>; agreement: { all: number; awayFromBoundary: number } };
          return { regimes: r.cells.map((c) => c.regime), all: r.agreement.all, away: r.agreement.awayFromBoundary, status: doc.document.getElementById('status-text').textContent, seconds: (performance.now() - start) / 1000 };
        };
        return { device: await sweep('gpujs:gpu'), js: await sweep('js') };
      });
    } finally {
      await context.close();
      writeFileSync(path.join(dir, 'exported.json'), exported);
    }
  }, 600_000);

  afterAll(() => {
    server?.close();
    if (profile) rmSync(path.dirname(profile), { recursive: true, force: true });
  });

  it('loads with no request leaving localhost and no page error', () => {
    expect(foreign).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('says which WebGL it found and picks its default backend from it (SwiftShader here: wasm)', () => {
    expect(initialStatus).toMatch(/^ready · WebGL: .*SwiftShader.* · default backend wasm \(no hardware WebGL/);
  });

  it("exports the CLI's results.json for the same flags, byte for byte but the manifest", () => {
    const strip = (text: string) => {
      const { manifest, ...rest } = JSON.parse(text) as { manifest: { resultsHash: string; configHash: string } };
      return { body: `${JSON.stringify(rest, null, 1)}\n`, manifest };
    };
    const [browser, cli] = [strip(exported), strip(cliJson)];
    expect(browser.body).toBe(cli.body);
    expect(browser.manifest.resultsHash).toBe(cli.manifest.resultsHash);
    expect(browser.manifest.configHash).toBe(cli.manifest.configHash);
    // And the whole file is the CLI's layout: only the manifest's lines differ.
    expect(exported.replace(/"manifest": \{[\s\S]*\}\n\}\n$/, '')).toBe(cliJson.replace(/"manifest": \{[\s\S]*\}\n\}\n$/, ''));
  });

  it("a clicked cell is outlined in every panel and shows every seed's model, lowest loss first", () => {
    expect(selection.figures).toBe(FLAGS.seeds);
    expect(selection.outlined).toBe(3); // experiment, theory, seed spread
    expect(selection.title).toMatch(/^density [\d.]+, importance [\d.]+: (dedicated|superposition|not-represented) \(theory: [a-z-]+\); every seed, lowest loss first$/);
  });

  it('exports the figures under the CLI report\'s names, as SVG and PNG', () => {
    expect(figures.map((f) => [f.name, f.svg, f.png])).toEqual([['phase-diagram', '<svg', 'data:image/png;base64,'], ['seed-spread', '<svg', 'data:image/png;base64,']]);
    expect(figures[0].pngLength).toBeGreaterThan(10_000);
  });

  it("the form's limits are the CLI flags' ranges; an empty field is an error naming it", () => {
    expect(form).toEqual({ limits: { grid: '1..200', seeds: '1..1000' }, error: 'steps: enter a number' });
  });

  it('draws the phase diagram and imports a results.json made by the CLI', () => {
    expect(svgRects).toBeGreaterThan(2 * FLAGS.grid * FLAGS.grid); // a mark per cell in each panel
    expect(imported.cells).toBe(FLAGS.grid * FLAGS.grid);
    expect(imported.refusals).toEqual([
      "import: experiment: expected one of feature-2x1, feature-3x2, neuron, computation, intro, found 'toString'",
      'import: cells: expected 36 entries, found 72',
      expect.stringMatching(/^import: not JSON \(/),
    ]);
    expect(imported.headline).toMatch(/^agreement with theory: [\d.]+% of 36 cells/);
  });

  it('stop ends the run (its promise rejects), resume trains the remaining cells, progress ends at 100%', () => {
    expect(stopResume.outcome).toBe('stopped');
    expect(stopResume.cells).toBe(36);
    expect(stopResume.status).toMatch(/^feature-2x1: 100\.0% /);
  });

  it('replaces a silent worker, retries its chunk once, then fails naming the chunk', () => {
    expect(watchdog).toMatch(/^chunk 0: its Web Worker sent nothing for 0\.5 s, twice/);
  });

  it("trains on gpu.js's WebGL backend in the workers (the WebGL2 device trainer), within float32 tolerance of the reference", () => {
    expect(gpu.status).toContain('backend gpujs:gpu, device trainer, in 2 Web Workers');
    expect(gpu.gpujs).toHaveLength(12);
    // Shaders sum in float32 in another order than the reference (float64 partial sums): each sum differs by at
    // most k * 2^-24 relative (Higham; k <= 1024 here, the batch), and 30 Adam steps carry that into the weights.
    // Measured: ~1e-7 relative in the final losses; 1e-4 leaves room without hiding a wrong kernel, which
    // changes a loss at the first digits.
    gpu.js.forEach((loss, i) => expect(Math.abs(gpu.gpujs[i] - loss) / loss, `cell ${i}`).toBeLessThan(1e-4));
  });

  it('the default 2x1 sweep on the WebGL2 device trainer labels as js autograd does (>= 97% of cells), and agrees with theory as well (within 1 point)', () => {
    const { device, js } = defaults!;
    console.log(`test/browser: default 2x1 sweep: WebGL2 device trainer ${device.seconds.toFixed(1)} s, js ${js.seconds.toFixed(1)} s; agreement with theory ${(100 * device.all).toFixed(1)}% and ${(100 * js.all).toFixed(1)}%`);
    expect(device.status).toContain('backend gpujs:gpu, device trainer');
    expect(device.regimes.length).toBe(js.regimes.length);
    expect(device.regimes.length).toBeGreaterThan(50);
    expect(device.regimes.filter((r, i) => r === js.regimes[i]).length / js.regimes.length).toBeGreaterThanOrEqual(0.97);
    expect(Math.abs(device.all - js.all)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(device.away - js.away)).toBeLessThanOrEqual(0.01);
  });

  it("trains on gpu.js's WebGPU backend from the workers (cross-origin isolated page), within float32 tolerance of js", () => {
    expect(isolated).toBe(true);
    expect(initialStatus).toMatch(/WebGPU: .*swiftshader.*software \(gpujs:webgpu refuses it\)/i);
    expect(gpu.webgpuStatus).toContain('backend gpujs:webgpu, device trainer, in 2 Web Workers');
    expect(gpu.webgpu).toHaveLength(12);
    gpu.js.forEach((loss, i) => expect(Math.abs(gpu.webgpu[i] - loss) / loss, `cell ${i}`).toBeLessThan(1e-4));
  });

  it('writes screenshots that are not blank', () => {
    for (const name of ['phase-diagram.png', 'cell-detail.png', 'imported.png']) {
      const png = readFileSync(path.join(SHOTS, name));
      // A blank 1200-pixel-wide page compresses to a few kB; the diagrams add tens of kB of detail.
      expect(png.length, name).toBeGreaterThan(30_000);
    }
  });
});

describe('the explorer static server', () => {
  it('serves its folder only, and answers bad paths instead of crashing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sl-serve-'));
    mkdirSync(path.join(dir, 'site'));
    mkdirSync(path.join(dir, 'site', '.ssh'));
    writeFileSync(path.join(dir, 'site', 'index.html'), '<p>ok</p>');
    writeFileSync(path.join(dir, 'site', 'main.js'), 'ok');
    writeFileSync(path.join(dir, 'site', 'notes.txt'), 'not part of the build');
    writeFileSync(path.join(dir, 'site', '.env'), 'TOKEN=1');
    writeFileSync(path.join(dir, 'site', '.ssh', 'id_rsa'), 'key');
    writeFileSync(path.join(dir, 'secret.txt'), 'outside');
    symlinkSync(path.join(dir, 'secret.txt'), path.join(dir, 'site', 'link.txt'));
    symlinkSync('/etc/passwd', path.join(dir, 'site', 'passwd'));
    symlinkSync(path.join(dir, 'site', 'gone.txt'), path.join(dir, 'site', 'dangling.txt'));
    const { server: s, url } = await serveFolder(path.join(dir, 'site'), 0);
    const { server: s2, url: url2 } = await serveFolder(path.join(dir, 'site'), 0, { files: ['index.html', 'main.js'] });
    try {
      const status = async (p: string, base = url) => (await fetch(base + p)).status;
      expect(await status('')).toBe(200);
      expect(await status('%')).toBe(400); // a malformed escape
      expect(await status('%2F..')).toBe(404); // the folder itself, not a file
      expect(await status('..%2Fsecret.txt')).toBe(404);
      expect(await status('nope.js')).toBe(404);
      expect(await status('.env')).toBe(404); // dotfiles and dotted folders never
      expect(await status('.ssh/id_rsa')).toBe(404);
      expect(await status('%2Essh/id_rsa')).toBe(404);
      expect(await status('link.txt')).toBe(404); // a symlink that leaves the folder
      expect(await status('passwd')).toBe(404);
      expect(await status('dangling.txt')).toBe(404); // a symlink to nothing
      expect(await status('notes.txt')).toBe(200); // no list given: the folder's plain files
      expect(await status('notes.txt', url2)).toBe(404); // a list given (the explorer's build): only those
      expect(await status('main.js', url2)).toBe(200);
      for (const method of ['POST', 'PUT', 'DELETE', 'TRACE']) {
        const r = await fetch(url, { method: method === 'TRACE' ? 'OPTIONS' : method });
        expect(r.status, method).toBe(405);
        expect(r.headers.get('allow')).toBe('GET, HEAD');
      }
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
      expect(await status('')).toBe(200); // still up
      expect(new URL(url).hostname).toBe('127.0.0.1');
    } finally {
      s.close();
      s2.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a port in use is one line that suggests --port, exit status 2', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    const out = mkdtempSync(path.join(os.tmpdir(), 'sl-explorer-'));
    try {
      const r = spawnSync('npx', ['tsx', 'scripts/explorer.ts', '--port', String(port), '--out', out], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status).toBe(2);
      expect(r.stderr.trim()).toBe(`explorer: cannot listen on 127.0.0.1:${port}: port ${port} is in use; choose another with --port N (0 picks a free one)`);
    } finally {
      busy.close();
      rmSync(out, { recursive: true, force: true });
    }
  }, 150_000);
});
