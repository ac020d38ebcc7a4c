/**
 * src/math.ts's engine-independent functions are accurate: within one unit in the last place of the correctly
 * rounded value (Math's, whichever engine runs the test, is within one ulp too, so the two differ by at most 2),
 * exact where the value is (exp(0), log(1), sin(0), cos(0), e), and range errors are said. That they give the same
 * bits in a browser as in Node is test/browser/engine-math.test.ts.
 */
import { expect, it } from 'vitest';
import { cos, exp, log, pow, powInt, sin } from '../src/math.ts';
import { createRng } from '../src/random.ts';

/** The distance between two doubles in units of the larger's last place. */
const ulps = (a: number, b: number): number => (a === b ? 0 : Math.abs(a - b) / (Math.max(Math.abs(a), Math.abs(b)) * 2 ** -52));

it('exp, log, sin and cos are within 2 ulp of Math\u2019s over their working ranges, and exact where the value is', () => {
  const rng = createRng('math');
  let worst = 0;
  for (let k = 0; k < 20_000; k++) {
    const [a, b, c] = [(rng.float32() - 0.5) * 1400, rng.float32() * 1e6 + 1e-300, (rng.float32() - 0.5) * 100];
    worst = Math.max(worst, ulps(exp(a), Math.exp(a)), ulps(log(b), Math.log(b)));
    // sin and cos near their zeros lose relative accuracy by nature: compare in absolute terms there
    worst = Math.max(worst, Math.abs(sin(c) - Math.sin(c)) / 2 ** -52, Math.abs(cos(c) - Math.cos(c)) / 2 ** -52);
  }
  expect(worst).toBeLessThanOrEqual(2);
  expect([exp(0), exp(1), log(1), sin(0), cos(0), log(Math.E)]).toEqual([1, Math.E, 0, 0, 1, 1]);
  expect([exp(-Infinity), exp(Infinity), log(0), sin(Infinity), cos(NaN)]).toEqual([0, Infinity, -Infinity, NaN, NaN]);
  expect(() => sin(1e7)).toThrow('sin/cos: |x| = 10000000 is beyond 2^19 pi/2');
});

it('pow: integer powers by squaring (exact products), fractional ones as exp(y log x)', () => {
  expect(powInt(3, 5)).toBe(243);
  expect(pow(2, -3)).toBe(0.125);
  expect(pow(100, -0.5)).toBeCloseTo(0.1, 15);
  expect(pow(0.9, 10)).toBe(powInt(0.9, 10));
});
