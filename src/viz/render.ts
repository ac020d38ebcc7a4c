/**
 * Vega-Lite specs to SVG and PNG without a browser: vega-lite compiles, vega renders headless to SVG, resvg
 * rasterises. Plots are derived from results files, so a report can be redrawn without retraining.
 */
import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface Rendered {
  /** The compiled Vega spec, saved beside the plots so they can be re-rendered or edited. */
  vega: vega.Spec;
  svg: string;
  png: Uint8Array;
}

const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts', '/System/Library/Fonts', 'C:\\Windows\\Fonts'];
let warned = false;

export async function renderVegaLite(spec: TopLevelSpec): Promise<Rendered> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  if (!warned && !FONT_DIRS.some((d) => existsSync(d))) {
    warned = true;
    console.warn('render: no system fonts found, so PNG plots will have no text (the SVGs are complete); install e.g. fonts-dejavu-core');
  }
  const png = new Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    fitTo: { mode: 'zoom', value: 2 },
    background: 'white',
  }).render().asPng();
  return { vega: compiled, svg, png };
}
