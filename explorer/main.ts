/**
 * The explorer page: the command line's sweep, in a browser tab. The form becomes the same flags the CLI parses
 * (src/phase/flags.ts), so a configuration means the same thing in both; chunks of cells train in Web Workers
 * (explorer/worker.ts runs the CLI's trainChunk); finished cells are labelled by the CLI's assembleResults and
 * drawn with the CLI report's Vega-Lite specs as they arrive. Export writes results.json in the CLI's format;
 * import reads one made by the CLI. `window.explorer` exposes run / stop / resume / export / import for scripts
 * and tests.
 */
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { RunOutput } from '../src/phase/chunk.ts';
import { cellsOf, isFeatureExperiment, SHAPES, type ExperimentName, type SweepConfig } from '../src/phase/experiments.ts';
import { DEFAULTS, sweepFlags, sweepFromArgs, type sweepFromFlags } from '../src/phase/flags.ts';
import { modelSpec, neuronBarsSpec, SELECTED_CELL, sweepFigures } from '../src/phase/plots.ts';
import { addOutputs, assembleResults, chunksOf, headline, runsOf, sortedRuns, type FeatureCell, type GeometryCell, type SweepResults, type SweepRuns } from '../src/phase/results.ts';
import { checkResults } from '../src/phase/results-check.ts';
import { webglInfo } from '../src/kernels/webgl-info.ts';
import { summarizeAdapter, type AdapterInfoLike } from '../src/kernels/webgpu-bridge.ts';
import type { ChunkRequest } from './worker.ts';

/** What a run takes; anything left out is the experiment's command-line default. */
export interface RunOptions {
  experiment: ExperimentName;
  grid?: number;
  seeds?: number;
  steps?: number;
  batch?: number;
  seed?: number;
  backend?: 'js' | 'wasm' | 'gpujs:gpu' | 'gpujs:webgpu';
  /** gpujs:webgpu: accept a software adapter (SwiftShader and the like: for testing the path; slow). */
  allowSoftwareGpu?: boolean;
  workers?: number;
  /** A worker silent this long is taken for dead, replaced, and its chunk retried once (default 120). */
  watchdogSeconds?: number;
}

// --- DOM (the project compiles without the DOM typings: the few calls used are declared here) ---------------
interface El {
  value: string;
  disabled: boolean;
  textContent: string | null;
  innerHTML: string;
  style: Record<string, string>;
  files?: ArrayLike<{ text(): Promise<string>; size: number; name: string }>;
  addEventListener(type: string, f: (e: unknown) => void): void;
  appendChild(child: El): El;
  setAttribute(name: string, value: string): void;
  click(): void;
  max?: number | string;
  min?: number | string;
}
declare const document: { getElementById(id: string): El; createElement(tag: string): El };
declare const navigator: { hardwareConcurrency?: number; userAgent: string; gpu?: { requestAdapter(o?: object): Promise<{ info?: AdapterInfoLike } | null> } };
declare const crossOriginIsolated: boolean | undefined;
declare const window: Record<string, unknown>;
declare const Worker: new (url: URL, options: { type: 'module' }) => BrowserWorker;
declare const Blob: new (parts: string[], options: { type: string }) => object;
declare const URL: { new (url: string, base: string): URL; createObjectURL(blob: object): string; revokeObjectURL(url: string): void };
interface URL {
  href: string;
}
declare const crypto: { subtle: { digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer> } };
interface BrowserWorker {
  onmessage: ((e: { data: WorkerMessage }) => void) | null;
  onerror: ((e: { message: string }) => void) | null;
  postMessage(message: ChunkRequest): void;
  terminate(): void;
}
type WorkerMessage = { id: number; kind: 'steps'; steps: number } | { id: number; kind: 'done'; backend: string; trainer: string; outputs: RunOutput[] } | { id: number; kind: 'error'; message: string };

const $ = (id: string): El => document.getElementById(id);

// --- state ----------------------------------------------------------------------------------------------------
interface Sweep {
  config: SweepConfig;
  thresholds: ReturnType<typeof sweepFromFlags>['thresholds'];
  runs: SweepRuns;
  backend: string;
  workers: number;
  runStepsTotal: number;
  runStepsDone: number;
  startedAt: number;
  stepsAtStart: number;
  backendsSeen: Set<string>;
  trainersSeen: Set<string>;
  allowSoftwareGpu: boolean;
}
let sweep: Sweep | null = null;
let results: SweepResults | null = null;
let pool: BrowserWorker[] = [];
let watchdogSeconds = 120;
/** Ends the running train() with 'stopped' (set while one runs). */
let abortTraining: (() => void) | null = null;
/** The backend recorded in an imported file's manifest (export keeps it). */
let importedBackend = 'unknown';

/** The CLI's sweep configuration for these options: the same flags, parsed by the same code. */
export function configFor(o: RunOptions): { config: SweepConfig; thresholds: Sweep['thresholds'] } {
  const argv = ['--experiment', o.experiment];
  if (o.grid !== undefined && isFeatureExperiment(o.experiment)) argv.push('--grid', String(o.grid));
  for (const key of ['seeds', 'steps', 'batch', 'seed'] as const) if (o[key] !== undefined) argv.push(`--${key}`, String(o[key]));
  return sweepFromArgs(argv);
}

/** Start a sweep; resolves with its results when every cell is done (rejects when stopped). */
export async function run(o: RunOptions): Promise<SweepResults> {
  const { config, thresholds } = configFor(o);
  const workers = Math.max(1, Math.min(o.workers ?? navigator.hardwareConcurrency ?? 2, 32));
  watchdogSeconds = o.watchdogSeconds ?? 120;
  sweep = { config, thresholds, runs: {}, backend: o.backend ?? 'wasm', workers, runStepsTotal: cellsOf(config).length * config.seeds * config.steps, runStepsDone: 0, startedAt: 0, stepsAtStart: 0, backendsSeen: new Set(), trainersSeen: new Set(), allowSoftwareGpu: o.allowSoftwareGpu ?? false };
  results = null;
  $('figures').innerHTML = '';
  $('detail').innerHTML = '';
  return train();
}

/** Train the cells not yet done, in chunks of a few cells, on a pool of Web Workers. */
async function train(): Promise<SweepResults> {
  const s = sweep!;
  setRunning(true);
  $('error').textContent = '';
  const todo = cellsOf(s.config).filter((c) => s.runs[c.index] === undefined);
  // Small chunks (4 cells) so the diagram fills in as they finish; chunking never changes the bytes.
  const chunks = chunksOf(s.config, todo, s.workers, s.config.seeds * 4).map((cells) => runsOf(s.config, cells));
  s.startedAt = performance.now();
  s.stepsAtStart = s.runStepsDone;
  // Steps reported by chunks still in flight: a stop discards them (resume trains those chunks again).
  const inFlight = new Map<number, number>();
  let finish!: () => void;
  let fail!: (e: Error) => void;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  abortTraining = () => {
    for (const steps of inFlight.values()) s.runStepsDone -= steps;
    fail(new Error('stopped'));
  };
  // Each worker trains one chunk at a time and takes the next when done. A worker that sends nothing for
  // watchdogSeconds has died (a browser can drop a crashed worker without an error event): it is replaced and
  // its chunk trained again, once; chunks are deterministic, so a retry changes no byte.
  const queue = chunks.map((_, id) => id);
  const attempts = new Array<number>(chunks.length).fill(0);
  let remaining = chunks.length;
  interface Slot {
    worker: BrowserWorker;
    chunk: number;
    heard: number;
  }
  const slots = new Set<Slot>();
  const post = (slot: Slot, id: number): void => {
    slot.chunk = id;
    slot.heard = performance.now();
    attempts[id]++;
    slot.worker.postMessage({ id, config: s.config, runs: chunks[id], backend: s.backend, allowSoftwareGpu: s.allowSoftwareGpu } satisfies ChunkRequest);
  };
  const retire = (slot: Slot): void => {
    slot.worker.terminate();
    slots.delete(slot);
  };
  const spawn = (): void => {
    const id = queue.shift();
    if (id === undefined) return;
    const slot: Slot = { worker: new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }), chunk: id, heard: 0 };
    pool.push(slot.worker);
    slots.add(slot);
    slot.worker.onmessage = ({ data }) => {
      slot.heard = performance.now();
      if (data.kind === 'steps') {
        s.runStepsDone += data.steps;
        inFlight.set(data.id, (inFlight.get(data.id) ?? 0) + data.steps);
        showProgress();
      } else if (data.kind === 'error') fail(new Error(data.message));
      else {
        inFlight.delete(data.id);
        s.backendsSeen.add(data.backend);
        s.trainersSeen.add(data.trainer);
        addOutputs(s.runs, data.outputs);
        render(true);
        if (--remaining === 0) return finish();
        const nextId = queue.shift();
        if (nextId === undefined) retire(slot);
        else post(slot, nextId);
      }
    };
    slot.worker.onerror = (e) => fail(new Error(e.message));
    post(slot, id);
  };
  const watchdog = setInterval(() => {
    for (const slot of slots) {
      if (performance.now() - slot.heard < watchdogSeconds * 1000) continue;
      retire(slot);
      s.runStepsDone -= inFlight.get(slot.chunk) ?? 0;
      inFlight.delete(slot.chunk);
      if (attempts[slot.chunk] >= 2) return fail(new Error(`chunk ${slot.chunk}: its Web Worker sent nothing for ${watchdogSeconds} s, twice (it may have crashed)`));
      queue.unshift(slot.chunk);
      spawn();
    }
  }, 1000);
  try {
    for (let w = 0; w < Math.min(s.workers, chunks.length); w++) spawn();
    if (chunks.length === 0) finish();
    await finished;
  } catch (e) {
    setRunning(false);
    if ((e as Error).message !== 'stopped') $('error').textContent = `training failed: ${(e as Error).message}`;
    throw e;
  } finally {
    clearInterval(watchdog);
    abortTraining = null;
    for (const w of pool) w.terminate();
    pool = [];
  }
  setRunning(false);
  s.runStepsDone = s.runStepsTotal;
  showProgress();
  return render(false)!;
}

/** Stop training: finished cells are kept, and resume() trains the rest. */
export function stop(): void {
  abortTraining?.();
  for (const w of pool) w.terminate();
  pool = [];
  setRunning(false);
  $('status-text').textContent += ' (stopped: resume trains the remaining cells)';
}

export function resume(): Promise<SweepResults> {
  if (!sweep) throw new Error('resume: nothing to resume');
  return train();
}

/** Label the finished cells (all of them when not partial), redraw, and return the results. */
function render(partial: boolean): SweepResults | null {
  const s = sweep!;
  const cells = cellsOf(s.config);
  const done = cells.filter((c) => s.runs[c.index] !== undefined);
  if (done.length === 0) return null;
  const runs = sortedRuns(s.runs, done);
  results = assembleResults(s.config, runs, { feature: s.thresholds.feature, neuron: s.thresholds.neuron }, partial);
  void draw(results);
  return results;
}

let drawing: Promise<void> = Promise.resolve();
/** The diagram's views, finalized before the next drawing replaces them (vega keeps listeners until then). */
let views: vega.View[] = [];
/** The CLI report's file name of each drawn figure (views[i] draws figureNames[i]). */
let figureNames: string[] = [];
/** Draw a results object's figures (the CLI report's specs); clicks on a cell show its model. */
function draw(r: SweepResults): Promise<void> {
  // A failed drawing must not stop the ones after it: chain on the previous one's end, not its success.
  drawing = drawing.catch(() => undefined).then(async () => {
    $('headline').textContent = r.cells.length === cellsOf(r.config).length ? headline(r) : `${r.cells.length} of ${cellsOf(r.config).length} cells done`;
    const box = $('figures');
    for (const v of views) v.finalize();
    views = [];
    box.innerHTML = '';
    figureNames = [];
    for (const [name, title, spec] of sweepFigures(r)) {
      figureNames.push(name);
      const figure = document.createElement('figure');
      figure.setAttribute('aria-label', title);
      box.appendChild(figure);
      const view = await embed(figure, spec);
      views.push(view);
      view.addEventListener('click', (_event, item) => {
        const datum = item?.datum as { density?: number; importance?: number; x0?: number } | undefined;
        if (datum?.density === undefined) return;
        // a feature sweep's figures outline the selected cell in every panel
        if (isFeatureExperiment(r.experiment) && datum.x0 !== undefined) for (const v of views) void v.data(SELECTED_CELL, [datum]).runAsync();
        showCell(r, datum.density, datum.importance);
      });
    }
  });
  return drawing;
}

async function embed(container: El, spec: TopLevelSpec): Promise<vega.View> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'svg', container: container as never, hover: true });
  await view.runAsync();
  return view;
}

/**
 * The models of the cell at (density, importance): for a feature sweep every seed's, best first, each with its
 * label and loss; for the intro sweep the best model's arrows and W^T W, as the paper draws them.
 */
function showCell(r: SweepResults, density: number, importance?: number): void {
  const near = (a: number, b: number) => Math.abs(Math.log(a / b)) < 1e-9;
  const cell = r.cells.find((c) => near(c.density, density) && (importance === undefined || !('importance' in c) || near((c as FeatureCell).importance, importance)));
  if (!cell) return;
  const { features: n, hidden: m } = SHAPES[r.experiment];
  const box = $('detail');
  box.innerHTML = '';
  const specs: TopLevelSpec[] = [];
  if ('regime' in cell) {
    const c = cell as FeatureCell;
    $('detail-title').textContent = `density ${c.density.toPrecision(3)}, importance ${c.importance.toPrecision(3)}: ${c.regime} (theory: ${c.theory}); every seed, lowest loss first`;
    for (const run of [...c.runs].sort((a, b) => a.loss - b.loss)) specs.push(modelSpec(run.W, n, m, `seed ${run.seed}: ${run.regime}, loss ${run.loss.toExponential(3)}`));
  } else if ('neurons' in cell) {
    $('detail-title').textContent = `density ${cell.density.toPrecision(3)}: the best model's neurons`;
    specs.push(neuronBarsSpec(r, [cell.density]));
  } else {
    const g = cell as GeometryCell;
    $('detail-title').textContent = `density ${g.density.toPrecision(3)}: ${g.represented} of ${n} features represented (best of ${g.runs.length}, seed ${g.bestSeed})`;
    if (g.W) specs.push(modelSpec(g.W, n, m, `seed ${g.bestSeed}, loss ${g.loss.toExponential(3)}`));
    else {
      // a results file from before geometry cells kept their weights: the norms alone
      specs.push({
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        data: { values: g.norms.map((norm, i) => ({ feature: i, norm, superposition: g.superposition[i] })) },
        mark: 'bar',
        width: 200,
        height: 180,
        encoding: { x: { field: 'feature', type: 'ordinal' }, y: { field: 'norm', type: 'quantitative', title: '||W_i||' }, color: { field: 'superposition', type: 'quantitative', scale: { scheme: 'viridis', domain: [0, 1], clamp: true } } },
      } as TopLevelSpec);
    }
  }
  for (const spec of specs) {
    const figure = document.createElement('figure');
    box.appendChild(figure);
    void embed(figure, spec);
  }
}

function showProgress(): void {
  const s = sweep!;
  const share = s.runStepsDone / s.runStepsTotal;
  $('progress').setAttribute('value', String(share));
  const seconds = (performance.now() - s.startedAt) / 1000;
  const rate = (s.runStepsDone - s.stepsAtStart) / seconds;
  const eta = rate > 0 ? (s.runStepsTotal - s.runStepsDone) / rate : NaN;
  const backends = [...s.backendsSeen].join(', ') || s.backend;
  const trainers = s.trainersSeen.size ? `, ${[...s.trainersSeen].join(', ')} trainer,` : '';
  $('status-text').textContent = `${s.config.experiment}: ${(100 * share).toFixed(1)}% · ${seconds.toFixed(0)} s elapsed · ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)} s` : '-'} · backend ${backends}${trainers} in ${s.workers} Web Worker${s.workers > 1 ? 's' : ''}`;
}

function setRunning(running: boolean): void {
  $('run').disabled = running;
  $('stop').disabled = !running;
  $('resume').disabled = running || !sweep || cellsOf(sweep.config).every((c) => sweep!.runs[c.index] !== undefined);
  $('export').disabled = running || !results;
  $('export-figures').disabled = running || !results;
}

// --- results.json -----------------------------------------------------------------------------------------------

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** results.json as the CLI writes it: the results, then a manifest (this page's, with the same hashes). */
export async function exportJson(): Promise<string> {
  if (!results || (sweep && results.cells.length !== cellsOf(results.config).length)) throw new Error('export: no finished sweep');
  const manifest = {
    package: 'superposition-lab (explorer)',
    gitCommit: null,
    backend: sweep ? [...sweep.backendsSeen].join(', ') : importedBackend,
    node: `browser: ${navigator.userAgent}`,
    configHash: await sha256(JSON.stringify(results.config)),
    resultsHash: await sha256(JSON.stringify(results)),
  };
  return `${JSON.stringify({ ...results, manifest }, null, 1)}\n`;
}

/**
 * Files larger than this are refused before they are read: about the longest string a browser's JSON.parse
 * takes (V8: 2^29 - 24 characters). A 200 x 200 feature grid with 5 seeds is about 83 MB, well inside.
 */
export const MAX_IMPORT_BYTES = 512 * 1024 * 1024 - 1024;

/**
 * Show a results.json made by the CLI (or exported here): checked field by field and re-derived where it can be
 * (src/phase/results-check.ts) before anything is drawn.
 */
export async function importJson(text: string, source = 'import'): Promise<SweepResults> {
  if (text.length > MAX_IMPORT_BYTES) throw new Error(`${source}: ${text.length} bytes, more than the ${Math.floor(MAX_IMPORT_BYTES / 2 ** 20)} MiB a browser can parse`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${(e as Error).message})`);
  }
  const r = checkResults(doc, source);
  const manifest = (doc as { manifest?: unknown }).manifest;
  importedBackend = typeof (manifest as { backend?: unknown } | undefined)?.backend === 'string' ? String((manifest as { backend: string }).backend).slice(0, 100) : 'unknown';
  sweep = null;
  results = r;
  $('headline').textContent = headline(r);
  await draw(r);
  $('status-text').textContent = `imported ${r.experiment}: ${r.cells.length} cells`;
  setRunning(false);
  return r;
}

// --- form ---------------------------------------------------------------------------------------------------------

function fillDefaults(): void {
  const e = $('experiment').value as ExperimentName;
  const d = DEFAULTS[e];
  $('grid').value = String(d.grid);
  $('grid-label').style.display = isFeatureExperiment(e) ? '' : 'none';
  $('seeds').value = String(d.seeds);
  $('steps').value = String(d.steps);
  $('batch').value = String(d.batch);
  // The fields' limits are the CLI flags' ranges (the same declaration), so the form offers what the check accepts.
  const flags = sweepFlags(['--experiment', e]);
  for (const key of ['grid', 'seeds', 'steps', 'batch', 'seed'] as const) {
    const spec = flags[key] as { min?: number; max?: number };
    if (spec.min !== undefined) $(key).min = String(spec.min);
    if (spec.max !== undefined) $(key).max = String(spec.max);
  }
}

function formOptions(): RunOptions {
  // An empty field is an error naming the field, not a silent 0 that the flag check reports as --steps 0.
  const num = (id: string) => {
    const text = $(id).value.trim();
    if (text === '') throw new Error(`${id}: enter a number`);
    return Number(text);
  };
  return { experiment: $('experiment').value as ExperimentName, grid: num('grid'), seeds: num('seeds'), steps: num('steps'), batch: num('batch'), seed: num('seed'), backend: $('backend').value as RunOptions['backend'], workers: num('workers') };
}

const report = (e: unknown): void => {
  if ((e as Error).message !== 'stopped') $('error').textContent = String((e as Error).message ?? e);
};

// The default backend: gpu.js's WebGL one on a hardware GPU, wasm otherwise; the page says which and why.
const gl = webglInfo();
$('backend').value = gl.hardware ? 'gpujs:gpu' : 'wasm';
$('status-text').textContent = `ready · WebGL: ${gl.renderer} · default backend ${$('backend').value}${gl.hardware ? ' (a GPU)' : ' (no hardware WebGL: shaders would run on the CPU)'}`;
// gpujs:webgpu runs from the Web Workers and needs cross-origin isolation (npm run explorer serves it) and an
// adapter: say what this browser offers.
void webgpuStatus()
  .catch((e: Error) => `WebGPU: ${e.message}`)
  .then((line) => ($('status-text').textContent += ` · ${line}`));

async function webgpuStatus(): Promise<string> {
  if (!navigator.gpu) return 'no WebGPU in this browser';
  if (!crossOriginIsolated) return 'WebGPU needs a cross-origin isolated page (npm run explorer serves one)';
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return 'no WebGPU adapter';
  const summary = summarizeAdapter(adapter.info ?? {}, 'WebGPU'); // GPUAdapter.info: Chrome 127 and later
  return `WebGPU: ${summary.description}${summary.software ? ' (gpujs:webgpu refuses it)' : ''}`;
}
$('workers').value = String(Math.min(navigator.hardwareConcurrency ?? 2, 8));
fillDefaults();
$('experiment').addEventListener('change', fillDefaults);
$('run').addEventListener('click', () => {
  try {
    run(formOptions()).catch(report);
  } catch (e) {
    report(e); // a bad value: the flag's own message
  }
});
$('stop').addEventListener('click', stop);
$('resume').addEventListener('click', () => resume().catch(report));
$('export').addEventListener('click', () => {
  exportJson()
    .then((text) => {
      const a = document.createElement('a');
      const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
      a.setAttribute('href', url);
      a.setAttribute('download', 'results.json');
      a.click();
      URL.revokeObjectURL(url);
    })
    .catch(report);
});
/** The drawn figures as the CLI report names them, each as SVG and as a PNG data URL at twice the size. */
export async function exportFigures(): Promise<Array<{ name: string; svg: string; png: string }>> {
  await drawing;
  return Promise.all(views.map(async (view, i) => ({ name: figureNames[i], svg: await view.toSVG(), png: await view.toImageURL('png', 2) })));
}

$('export-figures').addEventListener('click', () => {
  exportFigures()
    .then((figures) => {
      for (const f of figures) {
        const svgUrl = URL.createObjectURL(new Blob([f.svg], { type: 'image/svg+xml' }));
        for (const [href, file] of [[svgUrl, `${f.name}.svg`], [f.png, `${f.name}.png`]]) {
          const a = document.createElement('a');
          a.setAttribute('href', href);
          a.setAttribute('download', file);
          a.click();
        }
        URL.revokeObjectURL(svgUrl);
      }
    })
    .catch(report);
});
$('import').addEventListener('change', () => {
  const file = $('import').files?.[0];
  if (!file) return;
  if (file.size > MAX_IMPORT_BYTES) return report(new Error(`${file.name}: ${file.size} bytes, more than the ${Math.floor(MAX_IMPORT_BYTES / 2 ** 20)} MiB a browser can parse`));
  $('status-text').textContent = `reading ${file.name} (${(file.size / 2 ** 20).toFixed(1)} MiB)...`;
  file.text().then((text) => importJson(text, file.name)).catch(report);
});

window.explorer = { run, stop, resume, exportJson, exportFigures, importJson, configFor, drawn: () => drawing };
