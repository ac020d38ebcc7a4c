/**
 * The batch sampler's element rule as a GLSL ES 3.00 function, for gpu.js's WebGL2 kernels (a native function):
 * gpu.js translates `^`, `|`, `<<` and `>>>` to float arithmetic that is wrong for negative words, and half of
 * Threefry's words are negative, so the rounds are written here on GLSL's uint, from the round schedule of
 * src/counter/threefry.ts. The same bits as the host's sampleBatch (tested in headless Chromium).
 *
 *   float tfSample(k0 high, k0 low, k1 high, k1 low, step, counter, threshold, signed)
 *
 * The key's words come as 16-bit halves (exact in float32); step and counter are integers below 2^24; the
 * threshold is fround(density) 2^24. The element is (v >> 8) 2^-24 when (g >> 8) < threshold, else 0 (signed:
 * (v >> 8) 2^-23 - 1, the host's 2 u - 1 exactly).
 */
import { KEY_PARITY, ROTATIONS, ROUNDS } from '../../counter/threefry.ts';

export function threefryGlsl(): string {
  const ks = ['ks0', 'ks1', 'ks2'];
  const rounds: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const s = ROTATIONS[r % 8];
    rounds.push(`x0 = x0 + x1; x1 = ((x1 << ${s}u) | (x1 >> ${32 - s}u)) ^ x0;`);
    if (r % 4 === 3) {
      const q = (r + 1) / 4;
      rounds.push(`x0 = x0 + ${ks[q % 3]}; x1 = x1 + ${ks[(q + 1) % 3]} + ${q}u;`);
    }
  }
  return `float tfSample(float k0h, float k0l, float k1h, float k1l, float step, float counter, float threshold, float signedValues) {
  uint ks0 = (uint(k0h) << 16u) | uint(k0l);
  uint ks1 = (uint(k1h) << 16u) | uint(k1l);
  uint ks2 = ks0 ^ ks1 ^ ${KEY_PARITY >>> 0}u;
  uint x0 = uint(step) + ks0;
  uint x1 = uint(counter) + ks1;
  ${rounds.join('\n  ')}
  if ((x0 >> 8u) >= uint(threshold)) { return 0.0; }
  if (signedValues > 0.5) { return float(x1 >> 8u) * ${(2 ** -23).toExponential()} - 1.0; }
  return float(x1 >> 8u) * ${(2 ** -24).toExponential()};
}`;
}
