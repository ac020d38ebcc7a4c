/**
 * Everything a sweep leaves in its output folder: results.json (with a manifest), each plot as SVG, PNG and its
 * Vega spec, and an index.html that opens offline (plots inlined as SVG, no scripts, no CDN).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getBackend } from '../kernels/registry.ts';
import { renderVegaLite } from '../viz/render.ts';
import { isFeatureExperiment } from './experiments.ts';
import { featurePhaseSpec, geometrySpec, neuronBarsSpec, neuronCountSpec } from './plots.ts';
import { configHash, writeAtomic, type GeometryCell, type NeuronCell, type SweepResults } from './sweep.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

export interface Manifest {
  package: string;
  node: string;
  backend: string;
  configHash: string;
}

export function manifestOf(results: SweepResults): Manifest {
  const { thresholds: _t, ...config } = results.config;
  return { package: `${pkg.name}@${pkg.version}`, node: process.version, backend: getBackend().name, configHash: configHash(config) };
}

/** Densities for the stacked-bar plots: up to four spread over the sweep (first, last and two between). */
function barDensities(cells: readonly NeuronCell[]): number[] {
  const picks = [0, Math.round((cells.length - 1) / 3), Math.round((2 * (cells.length - 1)) / 3), cells.length - 1];
  return [...new Set(picks)].map((i) => cells[i].density);
}

const escape = (s: string): string => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);

/** Write results.json, the plots and index.html into `out`; returns the files written. */
export async function writeReport(results: SweepResults, out: string): Promise<string[]> {
  mkdirSync(out, { recursive: true });
  const written: string[] = [];
  const put = (name: string, content: string | Uint8Array): void => {
    writeAtomic(join(out, name), content);
    written.push(join(out, name));
  };
  put('results.json', `${JSON.stringify({ ...results, manifest: manifestOf(results) }, null, 1)}\n`);

  const specs: Array<[string, string, ReturnType<typeof featurePhaseSpec>]> = isFeatureExperiment(results.experiment)
    ? [['phase-diagram', 'Phase diagram: experiment beside theory', featurePhaseSpec(results)]]
    : results.experiment === 'intro'
      ? [['geometry', 'Features represented against density', geometrySpec(results)]]
      : [
        ['neuron-counts', 'Neuron-level phase diagram', neuronCountSpec(results)],
        ['neuron-bars', 'Per-neuron weights at selected densities', neuronBarsSpec(results, barDensities(results.cells as NeuronCell[]))],
      ];
  const figures: string[] = [];
  for (const [name, title, spec] of specs) {
    const r = await renderVegaLite(spec);
    put(`${name}.vl.json`, JSON.stringify(spec, null, 1));
    put(`${name}.vg.json`, JSON.stringify(r.vega, null, 1));
    put(`${name}.svg`, r.svg);
    put(`${name}.png`, r.png);
    figures.push(`<h2>${escape(title)}</h2>\n<figure>${r.svg}</figure>\n<p class="files">${name}.svg · ${name}.png · ${name}.vl.json (Vega-Lite) · ${name}.vg.json (Vega)</p>`);
  }
  const a = results.agreement;
  const summary = results.experiment === 'intro'
    ? `<p>Features represented by density (best model of each): ${(results.cells as GeometryCell[]).map((c) => `${c.density.toPrecision(3)}: ${c.represented}`).join(', ')}.</p>`
    : a
    ? `<p>Agreement with the closed-form theory: <b>${(100 * a.all).toFixed(1)}%</b> of ${a.cells} cells; <b>${(100 * a.awayFromBoundary).toFixed(1)}%</b> of the ${a.cellsAway} cells more than one grid step from a theoretical boundary.</p>`
    : `<p>Monosemantic neurons by density (best model of each): ${(results.cells as NeuronCell[]).map((c) => `${c.density}: ${c.monosemantic}`).join(', ')}.</p>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>superposition-lab: ${escape(results.experiment)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}figure{margin:0;overflow-x:auto}pre{background:#f5f5f5;padding:1em;overflow-x:auto}.files{color:#666;font-size:90%}</style>
</head><body>
<h1>${escape(results.experiment)}</h1>
${summary}
${figures.join('\n')}
<h2>Configuration</h2>
<pre>${escape(JSON.stringify({ ...results.config, manifest: manifestOf(results) }, null, 1))}</pre>
<p class="files">Every cell, run, weight and label: results.json.</p>
</body></html>
`;
  put('index.html', html);
  return written;
}
