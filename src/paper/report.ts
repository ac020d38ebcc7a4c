/**
 * The paper's figures as one offline report: index.html with every figure beside the paper's claim and its
 * checks (passed, failed or reported), and per figure a folder with its plots (SVG, PNG, Vega-Lite spec) and
 * output.json (settings, checks, data), from which a resumed run redraws it without training.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { manifestOf } from '../manifest.ts';
import { escape, settingsTable } from '../phase/report.ts';
import { writeAtomic } from '../phase/sweep.ts';
import { renderVegaLite } from '../viz/render.ts';
import * as v from 'valibot';
import { list, num, oneOf, parseOrThrow, record, show, text } from '../schema.ts';
import { SCALES, type Check, type FigureOutput, type PaperFigure, type Scale } from './figure.ts';

const PAPER = 'https://transformer-circuits.pub/2022/toy_model/index.html';

/** What a figure's folder keeps: enough to redraw it and to say what it found. */
export interface SavedFigure extends FigureOutput {
  name: string;
  scale: Scale;
  seed: number;
  seconds: number;
}

export const savedPath = (out: string, name: string): string => join(out, name, 'output.json');

/** A plot's file name: letters, digits and dashes only, so a saved figure cannot write outside its folder. */
const fileName = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,63}$/, (issue) => `expected a file name of letters, digits and dashes, found ${show(issue.input)}`));
const savedFigureSchema = record({
  name: v.string(),
  scale: oneOf(SCALES),
  seed: num(0, 2 ** 32 - 1, true),
  seconds: num(0, 1e9),
  figures: list(v.tuple([fileName, text(300), record({})]), 0, 20),
  checks: list(record({ claim: text(1000), measured: text(4000), pass: v.nullable(v.boolean()), note: v.optional(text(2000)) }), 0, 50),
  settings: record({}),
  data: record({}),
});

/**
 * A figure saved by an earlier run with the same scale and seed, or null when there is none or another run's (it
 * is trained again). A file that cannot be used (truncated, edited: every field is checked, and plot names must be
 * plain file names) is an error naming the file and the field: delete it, or run without --resume.
 */
export function loadSaved(out: string, name: string, scale: Scale, seed: number): SavedFigure | null {
  const path = savedPath(out, name);
  if (!existsSync(path)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`resume: ${path}: ${(e as Error).message} (a file cut short: delete it to train the figure again)`);
  }
  const saved = parseOrThrow(savedFigureSchema, raw, (message) => new Error(`resume: ${message} (delete it to train the figure again)`), path) as unknown as SavedFigure;
  return saved.name === name && saved.scale === scale && saved.seed === seed ? saved : null;
}

/** Save a figure's output and draw its plots into out/NAME/; returns the inline SVG of each plot. */
export async function writeFigure(out: string, saved: SavedFigure): Promise<{ title: string; svg: string; file: string }[]> {
  const dir = join(out, saved.name);
  mkdirSync(dir, { recursive: true });
  writeAtomic(savedPath(out, saved.name), `${JSON.stringify(saved)}\n`);
  const drawn = [];
  for (const [file, title, spec] of saved.figures) {
    const r = await renderVegaLite(spec);
    writeAtomic(join(dir, `${file}.vl.json`), JSON.stringify(spec, null, 1));
    writeAtomic(join(dir, `${file}.svg`), r.svg);
    writeAtomic(join(dir, `${file}.png`), r.png);
    drawn.push({ title, svg: r.svg, file: `${saved.name}/${file}` });
  }
  return drawn;
}

const measured = (c: Check): string => `${escape(c.measured)}${c.note ? `<br><i>${escape(c.note)}</i>` : ''}`;
const verdict = (c: Check): string => (c.pass === null ? '<td class="reported">reported</td>' : c.pass ? '<td class="pass">pass</td>' : '<td class="fail">FAIL</td>');

/** index.html over every figure written, and summary.json with each check (and a manifest). */
export function writeIndex(out: string, scale: Scale, entries: { figure: PaperFigure; saved: SavedFigure; drawn: { title: string; svg: string; file: string }[] }[], run: object): void {
  const checks = entries.flatMap((e) => e.saved.checks.map((c) => ({ figure: e.figure.name, ...c })));
  const failed = checks.filter((c) => c.pass === false).length;
  const passed = checks.filter((c) => c.pass === true).length;
  const summary = { scale, passed, failed, reported: checks.length - passed - failed, figures: entries.map((e) => ({ name: e.figure.name, section: e.figure.section, seconds: e.saved.seconds, checks: e.saved.checks })) };
  writeAtomic(join(out, 'summary.json'), `${JSON.stringify({ ...summary, manifest: manifestOf(summary, run) }, null, 1)}\n`);
  const sections = entries.map(({ figure, saved, drawn }) => `<section id="${figure.name}">
<h2>${escape(figure.title)}</h2>
<p class="section">Paper: <a href="${PAPER}#${figure.anchor}">${escape(figure.section)}</a> · ${saved.seconds.toFixed(0)} s at ${scale}</p>
<p class="claim"><b>The paper:</b> ${escape(figure.claim)}</p>
<table class="checks"><tr><th>claim</th><th>measured</th><th></th></tr>
${saved.checks.map((c) => `<tr><td>${escape(c.claim)}</td><td>${measured(c)}</td>${verdict(c)}</tr>`).join('\n')}
</table>
${drawn.map((d) => `<h3>${escape(d.title)}</h3>\n<figure>${d.svg}</figure>\n<p class="files">${d.file}.svg · ${d.file}.png · ${d.file}.vl.json</p>`).join('\n')}
<details><summary>Settings</summary>${settingsTable(saved.settings)}</details>
</section>`);
  writeAtomic(
    join(out, 'index.html'),
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>superposition-lab: the paper, figure by figure</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}figure{margin:0;overflow-x:auto}figure svg{max-width:100%;height:auto}table{border-collapse:collapse;margin:0.5em 0}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}.pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}.reported{color:#666}.files,.section{color:#666;font-size:90%}.claim{background:#f6f6f6;padding:0.6em 1em;border-left:4px solid #2255bb}section{margin-top:2.5em}</style>
</head><body>
<h1>Toy Models of Superposition, figure by figure</h1>
<p>Each figure of <a href="${PAPER}">Elhage et al. (2022)</a> regenerated at the <b>${scale}</b> scale, beside the paper's claim and checks that pass or fail on the measured numbers: <b>${passed} passed, ${failed} failed</b>, ${checks.length - passed - failed} reported without a pass mark.</p>
<table><tr><th>figure</th><th>claim</th><th>measured</th><th></th></tr>
${checks.map((c) => `<tr><td><a href="#${c.figure}">${escape(c.figure)}</a></td><td>${escape(c.claim)}</td><td>${measured(c)}</td>${verdict(c)}</tr>`).join('\n')}
</table>
${sections.join('\n')}
<h2>Run</h2>
${settingsTable(run)}
</body></html>
`,
  );
}
