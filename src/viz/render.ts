/**
 * Vega-Lite specs to SVG and PNG without a browser: vega-lite compiles, vega renders headless to SVG, resvg
 * rasterises. Plots are derived from results files, so a report can be redrawn without retraining.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One plot rendered: its compiled Vega spec, the SVG, and a PNG at twice the SVG's size. */
export interface Rendered {
  /** The compiled Vega spec, saved beside the plots so they can be re-rendered or edited. */
  vega: vega.Spec;
  svg: string;
  png: Uint8Array;
}

// The PNGs' font ships with the package (dejavu-fonts-ttf), not the machine: every machine draws the same text,
// and a server without system fonts (common on GPU nodes) no longer gets plots without labels.
const fontDir = join(dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');
const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) => join(fontDir, f));

/** Compile a Vega-Lite spec and render it headless to SVG and PNG, with the packaged DejaVu Sans font. */
export async function renderVegaLite(spec: TopLevelSpec): Promise<Rendered> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, {
    font: { fontFiles: FONT_FILES, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    fitTo: { mode: 'zoom', value: 2 },
    background: 'white',
  }).render().asPng();
  return { vega: compiled, svg, png };
}
