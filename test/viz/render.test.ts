/** PNGs are drawn with the font shipped with the package, so their text does not depend on the machine's fonts. */
import { describe, expect, it } from 'vitest';
import { renderVegaLite } from '../../src/viz/render.ts';

const chart = (title: string) => ({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, width: 60, height: 20, data: { values: [{ x: 1 }] }, mark: 'point', encoding: { x: { field: 'x', type: 'quantitative' } } }) as const;

describe('renderVegaLite', () => {
  it('draws the text with the shipped font: two titles of the same layout give different PNGs, one title the same bytes twice', async () => {
    // vega lays the text out itself, so without a font both PNGs would be the same glyph-less picture
    const [a, b, again] = await Promise.all([renderVegaLite(chart('AAAA')), renderVegaLite(chart('BBBB')), renderVegaLite(chart('AAAA'))]);
    expect(a.svg.replace(/AAAA/g, 'BBBB')).toBe(b.svg);
    expect(Buffer.from(a.png).equals(Buffer.from(b.png))).toBe(false);
    expect(Buffer.from(a.png).equals(Buffer.from(again.png))).toBe(true);
  });
});
