// A reward model's calibration table (training/reward/evaluate.ts), on run and model pages.

export type CalibrationRow = { from: number; to: number | null; pairs: number; accuracy: number | null; predicted: number | null };

export const num = (v: unknown, digits = 4) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–");

export function CalibrationTable({ rows }: { rows: CalibrationRow[] }) {
  return (
    <table data-testid="calibration">
      <thead><tr><th>|Δ|</th><th>Pairs</th><th>Accuracy</th><th>Calibrated</th></tr></thead>
      <tbody>
        {rows.map((b) => (
          <tr key={b.from}><td>{b.from}–{b.to ?? "∞"}</td><td>{b.pairs}</td><td>{num(b.accuracy, 3)}</td><td>{num(b.predicted, 3)}</td></tr>
        ))}
      </tbody>
    </table>
  );
}
