/**
 * Everything a sweep leaves in its output folder: results.json (with a manifest), each plot as SVG, PNG and its
 * Vega spec, and an index.html that opens offline (plots inlined as SVG, no scripts, no CDN).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { manifestOf } from '../manifest.ts';
import { renderVegaLite } from '../viz/render.ts';
import type { Comparison } from './compare.ts';
import { differenceSpec, sweepFigures, type Figure } from './plots.ts';
import { percent, type GeometryCell, type NeuronCell, type SweepResults } from './results.ts';
import { writeAtomic } from './sweep.ts';

export { headline } from './results.ts';

export const escape = (s: string): string => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);

/**
 * The output folder of any result: results.json (content + manifest), every figure as Vega-Lite spec, Vega spec,
 * SVG and PNG, and index.html with the figures inlined. Returns the files written.
 */
export async function writeOutputs(out: string, title: string, content: object, config: object, summaryHtml: string, figures: Figure[], extraHtml = '', backend?: string): Promise<string[]> {
  mkdirSync(out, { recursive: true });
  const written: string[] = [];
  const put = (name: string, data: string | Uint8Array): void => {
    writeAtomic(join(out, name), data);
    written.push(join(out, name));
  };
  const manifest = manifestOf(content, config, backend);
  put('results.json', `${JSON.stringify({ ...content, manifest }, null, 1)}\n`);
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
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}figure{margin:0;overflow-x:auto}pre{background:#f5f5f5;padding:1em;overflow-x:auto}.files{color:#666;font-size:90%}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}</style>
</head><body>
<h1>${escape(title)}</h1>
${summaryHtml}
${html.join('\n')}
${extraHtml}
<h2>Configuration</h2>
<pre>${escape(JSON.stringify({ config, manifest }, null, 1))}</pre>
<p class="files">Every cell, run, weight and label: results.json.</p>
</body></html>
`,
  );
  return written;
}

/** Write a sweep's results.json, plots and index.html into `out`; returns the files written. */
/** `backend`: the one that trained the results (default: the active one). */
export async function writeReport(results: SweepResults, out: string, backend?: string): Promise<string[]> {
  const figures = sweepFigures(results);
  const a = results.agreement;
  const summary =
    results.experiment === 'intro'
      ? `<p>Features represented by density (best model of each): ${(results.cells as GeometryCell[]).map((c) => `${c.density.toPrecision(3)}: ${c.represented}`).join(', ')}.</p>`
      : a
        ? `<p>Agreement with the closed-form theory: <b>${percent(a.all)}</b> of ${a.cells} cells; <b>${percent(a.awayFromBoundary)}</b> of the ${a.cellsAway} cells more than one grid step from a theoretical boundary.</p>`
        : `<p>Monosemantic neurons by density (best model of each): ${(results.cells as NeuronCell[]).map((c) => `${c.density}: ${c.monosemantic}`).join(', ')}.</p>`;
  return writeOutputs(out, results.experiment, results, results.config, summary, figures, '', backend);
}

/** A comparison's results.json, difference map and report. */
export async function writeComparison(c: Comparison, out: string, backend?: string): Promise<string[]> {
  const d = c.summary.lossDiff;
  const fmt = (v: number) => v.toExponential(2);
  const summary = `<p>A: <code>${escape(c.a.label || '(defaults)')}</code> · B: <code>${escape(c.b.label || '(defaults)')}</code></p>
<ul>${c.shared.notes.map((n) => `<li>${escape(n)}</li>`).join('')}</ul>
<p>${c.summary.changed} of ${c.summary.cells} cells change label. Mean loss difference B - A over the sweep: <b>${fmt(d.mean)}</b> (95% bootstrap interval over ${d.n} seeds: ${fmt(d.low)} to ${fmt(d.high)}).</p>`;
  const rows = c.cells
    .map((cell) => `<tr><td>${cell.density.toPrecision(3)}</td><td>${cell.importance === null ? '' : cell.importance.toPrecision(3)}</td><td>${escape(cell.labelA)}</td><td>${escape(cell.labelB)}</td><td>${fmt(cell.lossDiff.mean)}</td><td>${fmt(cell.lossDiff.low)} .. ${fmt(cell.lossDiff.high)}</td><td>${(cell.relativeWeightDiff.reduce((s, v) => s + v, 0) / cell.relativeWeightDiff.length).toFixed(4)}</td></tr>`)
    .join('\n');
  const table = `<h2>Cells</h2><table><tr><th>density</th><th>importance</th><th>A</th><th>B</th><th>loss B - A</th><th>95% interval</th><th>mean ||W_B - W_A|| / ||W_A||</th></tr>\n${rows}</table>`;
  return writeOutputs(out, `compare ${c.experiment}`, c, { a: c.a, b: c.b }, summary, [['difference', 'Difference map', differenceSpec(c)]], table, backend);
}
