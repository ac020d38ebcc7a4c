import ndarray from 'ndarray';
import ops from 'ndarray-ops';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.ts';
import { rngFromState } from '../../src/random.ts';

describe('creation', () => {
  it('from nested arrays, flat values with a shape, and numbers', () => {
    const a = sl.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(a.shape).toEqual([2, 3]);
    expect([...a.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(sl.tensor([1, 2, 3, 4], [2, 2]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(sl.tensor(Float32Array.of(1, 2), [2, 1]).shape).toEqual([2, 1]);
    const s = sl.tensor(2.5);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(2.5);
    expect(sl.tensor([1, 2], undefined, { requiresGrad: true }).requiresGrad).toBe(true);
  });

  it('copies its input', () => {
    const src = Float32Array.of(1, 2);
    const t = sl.tensor(src);
    src[0] = 9;
    expect(t.data[0]).toBe(1);
  });

  it('rejects ragged arrays and wrong sizes with clear errors', () => {
    expect(() => sl.tensor([[1, 2], [3]])).toThrow(/ragged nested array at \[1\]: expected 2 entries/);
    expect(() => sl.tensor([1, 2, 3], [2, 2])).toThrow('tensor: 3 values cannot fill shape [2, 2] (4 elements)');
    expect(() => sl.zeros([2, -1])).toThrow("full: invalid shape [2, -1] (dimensions must be integers >= 0)");
  });

  it('zeros, ones, full', () => {
    expect(sl.zeros([2, 2]).toArray()).toEqual([[0, 0], [0, 0]]);
    expect(sl.ones([3]).toArray()).toEqual([1, 1, 1]);
    expect(sl.full([1, 2], 7).toArray()).toEqual([[7, 7]]);
  });

  it('rand and randn are seeded: same seed, same bytes; another seed, other values', () => {
    const bytes = (t: sl.Tensor) => Buffer.from(t.data.buffer);
    expect(bytes(sl.rand([100], sl.createRng(1)))).toEqual(bytes(sl.rand([100], sl.createRng(1))));
    expect(bytes(sl.randn([100], sl.createRng(1)))).toEqual(bytes(sl.randn([100], sl.createRng(1))));
    expect(bytes(sl.rand([100], sl.createRng(1)))).not.toEqual(bytes(sl.rand([100], sl.createRng(2))));
  });

  it('rand is U[0,1) and randn is N(mean, std^2) (moments within 5 standard errors)', () => {
    const n = 200_000;
    const u = sl.rand([n], sl.createRng('moments')).data;
    let mean = 0;
    let min = 1;
    let max = 0;
    for (const v of u) {
      mean += v / n;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    const z = sl.randn([n], sl.createRng('moments'), { mean: 3, std: 2 }).data;
    let zm = 0;
    let zv = 0;
    for (const v of z) zm += v / n;
    for (const v of z) zv += (v - zm) ** 2 / n;
    expect(Math.abs(zm - 3)).toBeLessThan(5 * (2 / Math.sqrt(n)));
    expect(Math.abs(zv - 4)).toBeLessThan(5 * 4 * Math.sqrt(2 / n));
  });

  it('derived seeds are stable and distinct', () => {
    expect(sl.deriveSeed(1, 2, 3)).toBe(sl.deriveSeed(1, 2, 3));
    const seeds = new Set<string>();
    for (let c = 0; c < 50; c++) for (let k = 0; k < 20; k++) seeds.add(sl.deriveSeed(7, c, k));
    expect(seeds.size).toBe(1000);
    expect(sl.deriveSeed(1, 12, 3)).not.toBe(sl.deriveSeed(1, 1, 23));
  });
});

describe('ndarray interop', () => {
  it('toNdarray is a zero-copy view that ndarray-ops can work on', () => {
    const t = sl.tensor([[1, 2], [3, 4]]);
    const v = sl.toNdarray(t);
    expect(v.get(1, 0)).toBe(3);
    ops.mulseq(v, 10);
    expect(t.toArray()).toEqual([[10, 20], [30, 40]]);
  });

  it('fromNdarray shares a contiguous Float32Array view and copies a strided one', () => {
    const base = ndarray(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), [2, 4]);
    const row = base.pick(1, null); // contiguous [4, 5, 6, 7] at offset 4
    const t = sl.fromNdarray(row);
    expect([...t.data]).toEqual([4, 5, 6, 7]);
    expect(t.data.buffer).toBe(base.data.buffer);

    const tr = sl.fromNdarray(base.transpose(1, 0)); // strided: copied in row-major order
    expect(tr.shape).toEqual([4, 2]);
    expect(tr.toArray()).toEqual(sl.transpose(sl.fromNdarray(base)).toArray());
    expect(tr.data.buffer).not.toBe(base.data.buffer);

    const fromPlain = sl.fromNdarray(ndarray([1, 2, 3, 4, 5, 6], [3, 2]).step(2, -1));
    expect(fromPlain.toArray()).toEqual([[2, 1], [6, 5]]);
  });
});

describe('generator', () => {
  it('xoshiro128** matches the reference implementation on a known state', () => {
    // Reference outputs of xoshiro128** (Blackman and Vigna's C code) from state {1, 2, 3, 4}.
    const want = [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804];
    expect(xoshiroFromState([1, 2, 3, 4], 10)).toEqual(want);
    const rng = rngFromState('known', [1, 2, 3, 4]);
    expect(Array.from({ length: 10 }, () => rng.uint32())).toEqual(want);
  });
  it('bulk fills continue the same stream as single draws', () => {
    const a = sl.createRng('stream');
    const b = sl.createRng('stream');
    const bulk = a.fillUniform(new Float32Array(7));
    const single = Array.from({ length: 7 }, () => b.float32());
    expect([...bulk]).toEqual(single);
    expect(a.uint32()).toBe(b.uint32());
  });
});

/** An independent xoshiro128** for the known-answer test. */
function xoshiroFromState(state: number[], count: number): number[] {
  let [s0, s1, s2, s3] = state.map((v) => v >>> 0);
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number((BigInt(rotl(Number((BigInt(s1) * 5n) & 0xffffffffn), 7)) * 9n) & 0xffffffffn));
    const t = (s1 << 9) >>> 0;
    s2 = (s2 ^ s0) >>> 0;
    s3 = (s3 ^ s1) >>> 0;
    s1 = (s1 ^ s2) >>> 0;
    s0 = (s0 ^ s3) >>> 0;
    s2 = (s2 ^ t) >>> 0;
    s3 = rotl(s3, 11);
  }
  return out;
}
