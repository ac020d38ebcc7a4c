/**
 * Elementary functions that give the same bits in every JavaScript engine. `Math.pow` and `**` do not: Node 20 and
 * Chromium 150 disagree in the last bit for ~7% of integer powers like 0.999 ** t and ~10% of fractional ones like
 * 10 ** x. Nor, since Chromium 156, do Math.exp, log, sin and cos: 10%, 2%, 3% and 3% of the inputs tried differ
 * from Node 20's (measured with 200,000 each). Any of them would change a grid value, an importance, an initial
 * weight or a learning rate, and with it the bytes of a result between the command line and the browser
 * (test/browser/engine-math.test.ts). Multiplication, division, addition and sqrt are IEEE-exact everywhere, so
 * these are built from them: exp and log by stdlib's ports of fdlibm (bit for bit Node 20's Math.exp and
 * Math.log, checked on millions of inputs; exp(1) is special-cased to e as V8 does), sin and cos by a port of
 * fdlibm's kernels below (no kept library gives V8's bits: stdlib's differ in ~1% of inputs), so every result
 * made before keeps its bytes in Node.
 */
import stdlibExp from '@stdlib/math-base-special-exp';
import stdlibLog from '@stdlib/math-base-special-ln';

/** e^x, the same bits in every engine (Node 20's Math.exp; results below 2^-1022, which nothing here makes, may differ). */
export const exp = (x: number): number => (x === 1 ? Math.E : stdlibExp(x));

/** The natural logarithm, the same bits in every engine (Node 20's Math.log). */
export const log = (x: number): number => stdlibLog(x);

/** x^n for an integer n >= 0, by squaring. */
export function powInt(x: number, n: number): number {
  let result = 1;
  let base = x;
  for (let e = n; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) result *= base;
    base *= base;
  }
  return result;
}

/** x^y for x > 0 and any real y, as exp(y log x) (an integer y goes through powInt, exactly as above). */
export function pow(x: number, y: number): number {
  if (Number.isInteger(y)) return y >= 0 ? powInt(x, y) : 1 / powInt(x, -y);
  return exp(y * log(x));
}

// fdlibm 5.3's sin and cos (k_sin.c, k_cos.c, e_rem_pio2.c without its large-argument path), as V8 ports them.
const f64 = new Float64Array(1);
const i32 = new Int32Array(f64.buffer);
const high = (x: number): number => { f64[0] = x; return i32[1]; };
const fromHigh = (hi: number): number => { i32[1] = hi; i32[0] = 0; return f64[0]; };

const S1 = -1.66666666666666324348e-1, S2 = 8.33333333332248946124e-3, S3 = -1.98412698298579493134e-4, S4 = 2.75573137070700676789e-6, S5 = -2.50507602534068634195e-8, S6 = 1.58969099521155010221e-10;
function kernelSin(x: number, y: number, iy: number): number {
  const ix = high(x) & 0x7fffffff;
  if (ix < 0x3e400000 && (x | 0) === 0) return x;
  const z = x * x;
  const v = z * x;
  const r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
  if (iy === 0) return x + v * (S1 + z * r);
  return x - ((z * (0.5 * y - v * r) - y) - v * S1);
}
const C1 = 4.16666666666666019037e-2, C2 = -1.38888888888741095749e-3, C3 = 2.48015872894767294178e-5, C4 = -2.75573143513906633035e-7, C5 = 2.0875723212981748279e-9, C6 = -1.13596475577881948265e-11;
function kernelCos(x: number, y: number): number {
  const ix = high(x) & 0x7fffffff;
  if (ix < 0x3e400000 && (x | 0) === 0) return 1;
  const z = x * x;
  const r = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
  if (ix < 0x3fd33333) return 1 - (0.5 * z - (z * r - x * y));
  const qx = ix > 0x3fe90000 ? 0.28125 : fromHigh(ix - 0x00200000);
  const hz = 0.5 * z - qx;
  const a = 1 - qx;
  return a - (hz - (z * r - x * y));
}
const invpio2 = 6.36619772367581382433e-1, pio2_1 = 1.57079632673412561417e0, pio2_1t = 6.07710050650619224932e-11, pio2_2 = 6.0771005063039659766e-11, pio2_2t = 2.02226624879595063154e-21, pio2_3 = 2.0222662487111664558e-21, pio2_3t = 8.47842766036889956997e-32;
const npio2_hw = [0x3ff921fb, 0x400921fb, 0x4012d97c, 0x401921fb, 0x401f6a7a, 0x4022d97c, 0x4025fdbb, 0x402921fb, 0x402c463a, 0x402f6a7a, 0x4031475c, 0x4032d97c, 0x40346b9c, 0x4035fdbb, 0x40378fdb, 0x403921fb, 0x403ab41b, 0x403c463a, 0x403dd85a, 0x403f6a7a, 0x40407e4c, 0x4041475c, 0x4042106c, 0x4042d97c, 0x4043a28c, 0x40446b9c, 0x404534ac, 0x4045fdbb, 0x4046c6cb, 0x40478fdb, 0x404858eb, 0x404921fb];
const y = [0, 0];
function remPio2(x: number): number {
  const hx = high(x);
  const ix = hx & 0x7fffffff;
  if (ix <= 0x3fe921fb) { y[0] = x; y[1] = 0; return 0; }
  if (ix < 0x4002d97c) {
    if (hx > 0) {
      let z = x - pio2_1;
      if (ix !== 0x3ff921fb) { y[0] = z - pio2_1t; y[1] = z - y[0] - pio2_1t; }
      else { z -= pio2_2; y[0] = z - pio2_2t; y[1] = z - y[0] - pio2_2t; }
      return 1;
    }
    let z = x + pio2_1;
    if (ix !== 0x3ff921fb) { y[0] = z + pio2_1t; y[1] = z - y[0] + pio2_1t; }
    else { z += pio2_2; y[0] = z + pio2_2t; y[1] = z - y[0] + pio2_2t; }
    return -1;
  }
  if (ix > 0x413921fb) throw new RangeError(`sin/cos: |x| = ${Math.abs(x)} is beyond 2^19 pi/2, outside this implementation's range`);
  const t0 = Math.abs(x);
  const n = (t0 * invpio2 + 0.5) | 0;
  const fn = n;
  let r = t0 - fn * pio2_1;
  let w = fn * pio2_1t;
  if (n < 32 && ix !== npio2_hw[n - 1]) y[0] = r - w;
  else {
    const j = ix >> 20;
    y[0] = r - w;
    let i = j - ((high(y[0]) >> 20) & 0x7ff);
    if (i > 16) {
      let t = r; w = fn * pio2_2; r = t - w; w = fn * pio2_2t - ((t - r) - w); y[0] = r - w;
      i = j - ((high(y[0]) >> 20) & 0x7ff);
      if (i > 49) { t = r; w = fn * pio2_3; r = t - w; w = fn * pio2_3t - ((t - r) - w); y[0] = r - w; }
    }
  }
  y[1] = r - y[0] - w;
  if (hx < 0) { y[0] = -y[0]; y[1] = -y[1]; return -n; }
  return n;
}
/** sin(x), fdlibm's (as V8 computes it in Node 20); |x| up to 2^19 pi/2 (RangeError beyond). */
export function sin(x: number): number {
  const ix = high(x) & 0x7fffffff;
  if (ix <= 0x3fe921fb) return kernelSin(x, 0, 0);
  if (ix >= 0x7ff00000) return x - x;
  const n = remPio2(x);
  switch (n & 3) {
    case 0: return kernelSin(y[0], y[1], 1);
    case 1: return kernelCos(y[0], y[1]);
    case 2: return -kernelSin(y[0], y[1], 1);
    default: return -kernelCos(y[0], y[1]);
  }
}
/** cos(x), fdlibm's (as V8 computes it in Node 20); |x| up to 2^19 pi/2 (RangeError beyond). */
export function cos(x: number): number {
  const ix = high(x) & 0x7fffffff;
  if (ix <= 0x3fe921fb) return kernelCos(x, 0);
  if (ix >= 0x7ff00000) return x - x;
  const n = remPio2(x);
  switch (n & 3) {
    case 0: return kernelCos(y[0], y[1]);
    case 1: return -kernelSin(y[0], y[1], 1);
    case 2: return -kernelCos(y[0], y[1]);
    default: return kernelSin(y[0], y[1], 1);
  }
}
