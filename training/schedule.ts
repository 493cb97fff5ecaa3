// Learning-rate schedule: linear warmup, then cosine decay to a floor (InstructGPT's RM: cosine to 10%).

export interface LrSchedule {
  /** Peak learning rate, reached at the end of warmup. */
  peakLr: number;
  /** Steps of linear warmup from peakLr/warmupSteps to peakLr (0: none). */
  warmupSteps: number;
  /** Total optimizer steps; the cosine reaches the floor at the last one. */
  totalSteps: number;
  /** Floor as a fraction of peakLr (default 0.1). */
  minLrRatio?: number;
}

export function validateSchedule(s: LrSchedule): void {
  if (!(s.peakLr > 0) || !Number.isFinite(s.peakLr)) throw new RangeError(`schedule: peakLr must be positive, got ${s.peakLr}`);
  if (!Number.isInteger(s.totalSteps) || s.totalSteps < 1) throw new RangeError(`schedule: totalSteps must be a positive integer, got ${s.totalSteps}`);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0 || s.warmupSteps > s.totalSteps) {
    throw new RangeError(`schedule: warmupSteps must be an integer in [0, totalSteps], got ${s.warmupSteps}`);
  }
  const r = s.minLrRatio ?? 0.1;
  if (!(r >= 0 && r <= 1)) throw new RangeError(`schedule: minLrRatio must be in [0, 1], got ${r}`);
}

/** The learning rate of optimizer step `step` (0-based). */
export function learningRate(s: LrSchedule, step: number): number {
  const floor = s.peakLr * (s.minLrRatio ?? 0.1);
  if (step < s.warmupSteps) return (s.peakLr * (step + 1)) / s.warmupSteps;
  const decaySteps = s.totalSteps - s.warmupSteps;
  if (decaySteps <= 1) return s.peakLr;
  const progress = Math.min(1, (step - s.warmupSteps) / (decaySteps - 1));
  return floor + (s.peakLr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
