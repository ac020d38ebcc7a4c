/**
 * Powers that give the same bits in every JavaScript engine. `Math.pow` and `**` do not: Node 20 and Chromium
 * 150 disagree in the last bit for ~7% of integer powers like 0.999 ** t and ~10% of fractional ones like
 * 10 ** x (measured), which would change a grid value, an importance or Adam's bias correction, and with it the
 * bytes of a result between the command line and the browser. Multiplication is IEEE-exact everywhere, and
 * exp and log (fdlibm in V8) agreed on every input tried, so these two are built from them.
 */

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
  return Math.exp(y * Math.log(x));
}
