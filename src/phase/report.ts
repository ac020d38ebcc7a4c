/**
 * Everything a sweep leaves in its output folder: results.json (with a manifest), each plot as SVG, PNG and its
 * Vega spec, and an index.html that opens offline (plots inlined as SVG, no scripts, no CDN).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { manifestOf, type Manifest } from '../manifest.ts';
import { renderVegaLite } from '../viz/render.ts';
import type { FeatureThresholds, NeuronThresholds } from './classify.ts';
import type { Comparison } from './compare.ts';
import { isFeatureExperiment } from './experiments.ts';
import { differenceSpec, sweepFigures, type Figure } from './plots.ts';
import { percent, type GeometryCell, type NeuronCell, type SweepResults } from './results.ts';
import { writeAtomic } from './sweep.ts';

export { headline } from './results.ts';

export const escape = (s: string): string => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);

/**
 * The output folder of any result: results.json (content + manifest), every figure as Vega-Lite spec, Vega spec,
 * SVG and PNG, and index.html with the figures inlined. Returns the files written.
 */
export async function writeOutputs(out: string, title: string, content: object, config: object, summaryHtml: string, figures: Figure[], extraHtml = '', backend?: string, kept?: Manifest): Promise<string[]> {
  mkdirSync(out, { recursive: true });
  const written: string[] = [];
  const put = (name: string, data: string | Uint8Array): void => {
    writeAtomic(join(out, name), data);
    written.push(join(out, name));
  };
  // A results file drawn again (scripts/report.ts) keeps its own manifest, and its results.json is not rewritten.
  const manifest = kept ?? manifestOf(content, config, backend);
  if (!kept) put('results.json', `${JSON.stringify({ ...content, manifest }, null, 1)}\n`);
  const html: string[] = [];
  for (const [name, figureTitle, spec] of figures) {
    const r = await renderVegaLite(spec);
    put(`${name}.vl.json`, JSON.stringify(spec, null, 1));
    put(`${name}.vg.json`, JSON.stringify(r.vega, null, 1));
    put(`${name}.svg`, r.svg);
    put(`${name}.png`, r.png);
    html.push(`<h2>${escape(figureTitle)}</h2>\n<figure>${r.svg}</figure>\n<p class="files">${name}.svg · ${name}.png · ${name}.vl.json (Vega-Lite) · ${name}.vg.json (Vega)</p>`);
  }
  put(
    'index.html',
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>superposition-lab: ${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}figure{margin:0;overflow-x:auto}figure svg{max-width:100%;height:auto}table.settings td{text-align:left;font-family:ui-monospace,monospace}pre{background:#f5f5f5;padding:1em;overflow-x:auto}.files{color:#666;font-size:90%}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}</style>
</head><body>
<h1>${escape(title)}</h1>
${summaryHtml}
${html.join('\n')}
${extraHtml}
<h2>Configuration</h2>
${settingsTable({ ...config, manifest })}
<p class="files">Every cell, run, weight and label: results.json.</p>
</body></html>
`,
  );
  return written;
}

/** What the labels mean, with the thresholds this run used (a results file keeps them in config.thresholds). */
function legendOf(results: SweepResults): string {
  const t = results.config.thresholds as Partial<FeatureThresholds & NeuronThresholds>;
  if (results.experiment === 'intro') {
    return `<p class="legend">A feature counts as <b>represented</b> when its weight norm ||W_i|| ≥ ${t.normThreshold}; its superposition is the sum over other features j of (W_i/||W_i|| · W_j)². Each density shows its lowest-loss seed.</p>`;
  }
  if (isFeatureExperiment(results.experiment)) {
    return `<p class="legend">Each seed's extra feature (the last one) is <b>not represented</b> when its weight norm ||W_e|| &lt; ${t.normThreshold}; otherwise <b>dedicated</b> when its superposition, the sum over other features j of (W_e/||W_e|| · W_j)², is below ${t.superpositionThreshold}, and <b>in superposition</b> above it. A cell shows its ${t.aggregation === 'majority' ? "seeds' majority label" : 'lowest-loss seed’s label'}; hover a cell for every seed's label and loss. The theory panel labels each cell with the lowest of the closed-form candidate losses; cells within one grid step of a theory boundary are counted apart.</p>`;
  }
  return `<p class="legend">A neuron is <b>dead</b> when its weight norm is below ${t.deadNorm}, <b>monosemantic</b> when its largest weight is more than ${t.monosemanticity} of its norm (max_f |W_fn| / ||W_·n||), and <b>polysemantic</b> otherwise; a feature uses a neuron whose weight is at least ${t.usage} of the feature's largest. Counts are of the lowest-loss seed at each density.</p>`;
}

/** A readable number: integers as they are, others to 4 significant digits (no 17-digit floats). */
const readable = (v: number): string => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4))));

/** The configuration and manifest as a two-column table: nested fields by path, long number lists summarised. */
export function settingsTable(settings: object): string {
  const rows: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (Array.isArray(value) && value.every((x) => typeof x === 'number')) {
      const list = value as number[];
      const text = list.length <= 6 ? list.map(readable).join(', ') : `${list.length} values, ${readable(Math.min(...list))} .. ${readable(Math.max(...list))}`;
      rows.push(`<tr><th>${escape(path)}</th><td>${text}</td></tr>`);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) visit(v, path ? `${path}.${key}` : key);
    } else {
      rows.push(`<tr><th>${escape(path)}</th><td>${escape(typeof value === 'number' ? readable(value) : String(value))}</td></tr>`);
    }
  };
  visit(settings, '');
  return `<table class="settings">\n${rows.join('\n')}\n</table>`;
}

/**
 * Write a sweep's results.json, plots and index.html into `out`; returns the files written. `backend`: the one
 * that trained the results (default: the active one); `kept`: the manifest of a results file drawn again.
 */
export async function writeReport(results: SweepResults, out: string, backend?: string, kept?: Manifest): Promise<string[]> {
  const figures = sweepFigures(results);
  const a = results.agreement;
  const summary =
    results.experiment === 'intro'
      ? `<p>Features represented by density (best model of each): ${(results.cells as GeometryCell[]).map((c) => `${c.density.toPrecision(3)}: ${c.represented}`).join(', ')}.</p>`
      : a
        ? `<p>Agreement with the closed-form theory: <b>${percent(a.all)}</b> of ${a.cells} cells; <b>${percent(a.awayFromBoundary)}</b> of the ${a.cellsAway} cells more than one grid step from a theoretical boundary.</p>`
        : `<p>Monosemantic neurons by density (best model of each): ${(results.cells as NeuronCell[]).map((c) => `${c.density}: ${c.monosemantic}`).join(', ')}.</p>`;
  return writeOutputs(out, results.experiment, results, results.config, summary + legendOf(results), figures, '', backend, kept);
}

/** A comparison's results.json, difference map and report. */
export async function writeComparison(c: Comparison, out: string, backend?: string): Promise<string[]> {
  const d = c.summary.lossDiff;
  const fmt = (v: number) => v.toExponential(2);
  const changed = c.cells.filter((cell) => cell.changed);
  const where = (cell: (typeof c.cells)[number]) => `density ${cell.density.toPrecision(3)}${cell.importance === null ? '' : `, importance ${cell.importance.toPrecision(3)}`}`;
  const changes = changed.length === 0 ? '' : `: ${changed.slice(0, 40).map((cell) => `${where(cell)} (${escape(cell.labelA)} → ${escape(cell.labelB)})`).join('; ')}${changed.length > 40 ? `; and ${changed.length - 40} more (table below)` : ''}`;
  const summary = `<p>A: <code>${escape(c.a.label || '(defaults)')}</code> · B: <code>${escape(c.b.label || '(defaults)')}</code></p>
<ul>${c.shared.notes.map((n) => `<li>${escape(n)}</li>`).join('')}</ul>
<p>${c.summary.changed} of ${c.summary.cells} cells change label${changes}. Mean loss difference B - A over the sweep: <b>${fmt(d.mean)}</b> (95% bootstrap interval over ${d.n} seeds: ${fmt(d.low)} to ${fmt(d.high)}).</p>`;
  const rows = c.cells
    .map((cell) => `<tr><td>${cell.density.toPrecision(3)}</td><td>${cell.importance === null ? '' : cell.importance.toPrecision(3)}</td><td>${escape(cell.labelA)}</td><td>${escape(cell.labelB)}</td><td>${fmt(cell.lossDiff.mean)}</td><td>${fmt(cell.lossDiff.low)} .. ${fmt(cell.lossDiff.high)}</td><td>${(cell.relativeWeightDiff.reduce((s, v) => s + v, 0) / cell.relativeWeightDiff.length).toFixed(4)}</td></tr>`)
    .join('\n');
  const table = `<h2>Cells</h2><table><tr><th>density</th><th>importance</th><th>A</th><th>B</th><th>loss B - A</th><th>95% interval</th><th>mean ||W_B - W_A|| / ||W_A||</th></tr>\n${rows}</table>`;
  return writeOutputs(out, `compare ${c.experiment}`, c, { a: c.a, b: c.b }, summary, [['difference', 'Difference map', differenceSpec(c)]], table, backend);
}
