/** The one function of fmin (Ben Frederickson's minimisers, BSD-3) the optimal theory uses. */
declare module 'fmin' {
  export interface NelderMeadParameters {
    maxIterations?: number;
    /** Stop when the simplex's losses differ by less than this (fmin also uses it as the step tolerance). */
    minErrorDelta?: number;
    nonZeroDelta?: number;
    zeroDelta?: number;
  }
  export function nelderMead(f: (x: number[]) => number, x0: number[], parameters?: NelderMeadParameters): { x: number[]; fx: number };
}
