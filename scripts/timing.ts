/**
 * How the benchmark scripts time a call: rounds that repeat it for at least `minMs`, best of 3 after a warm-up
 * call (JIT, kernel builds), so one slow round on a shared machine does not count.
 */

/** Seconds per call over one round that repeats the call for at least minMs. */
export function secondsPerCall(fn: () => void, minMs: number): number {
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    fn();
    calls++;
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  return elapsed / calls / 1000;
}

/** Best-of-3 seconds per call after one warm-up call, each round repeating the call for at least minMs. */
export function time(fn: () => void, minMs: number): number {
  fn();
  let best = Infinity;
  for (let round = 0; round < 3; round++) best = Math.min(best, secondsPerCall(fn, minMs));
  return best;
}

/**
 * A run's wall time split into start-up and a steady time a step, from two runs of `shortSteps` and `steps` steps
 * (seconds each): the extra steps' time is the steady rate, and what the longer run took beyond its steps at that
 * rate is start-up. Runs too close to tell apart count as steps alone (no start-up).
 */
export function splitStartUp(shortSteps: number, shortSeconds: number, steps: number, seconds: number): { perStep: number; startUp: number } {
  const perStep = shortSteps < steps && seconds > shortSeconds ? (seconds - shortSeconds) / (steps - shortSteps) : seconds / steps;
  return { perStep, startUp: Math.max(0, seconds - perStep * steps) };
}
