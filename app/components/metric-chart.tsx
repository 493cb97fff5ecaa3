// A uPlot line chart of training metrics against the step, drawn in the browser only (uPlot
// needs a DOM); series share the x axis, each may be missing at some steps (validation loss).
import { useEffect, useRef } from "react";
import "uplot/dist/uPlot.min.css";

// Steps are whole numbers: ticks at 1, 2, 5, 10, 20, 50… never at 2.5.
const STEP_INCREMENTS = Array.from({ length: 7 }, (_, e) => [1, 2, 5].map((m) => m * 10 ** e)).flat();

// Learning rates and large counts read as 1.5e-4 and 1.2e5, not as "0" and a long number.
function valueLabel(v: number): string {
  const a = Math.abs(v);
  if (v === 0 || (a >= 1e-2 && a < 1e5)) return String(Number(v.toPrecision(4)));
  const [mantissa, exponent] = v.toExponential(1).split("e");
  return `${Number(mantissa)}e${Number(exponent)}`;
}

export type Curve = { label: string; steps: number[]; values: number[]; color: string };

export function MetricChart({ title, curves, height = 220 }: { title: string; curves: Curve[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const key = JSON.stringify(curves.map((c) => [c.label, c.steps.length, c.values.at(-1)]));
  useEffect(() => {
    let plot: { destroy(): void } | null = null;
    let cancelled = false;
    void import("uplot").then(({ default: UPlot }) => {
      if (cancelled || !box.current) return;
      const steps = [...new Set(curves.flatMap((c) => c.steps))].sort((a, b) => a - b);
      const at = new Map(steps.map((s, i) => [s, i]));
      const series = curves.map((c) => {
        const ys: (number | null)[] = new Array(steps.length).fill(null);
        c.steps.forEach((s, i) => (ys[at.get(s)!] = c.values[i]));
        return ys;
      });
      plot = new UPlot(
        {
          width: box.current.clientWidth || 600,
          height,
          scales: { x: { time: false } },
          axes: [{ label: "step", incrs: STEP_INCREMENTS }, { size: 56, values: (_u: unknown, ticks: number[]) => ticks.map(valueLabel) }],
          series: [{ label: "step" }, ...curves.map((c) => ({ label: c.label, stroke: c.color, width: 1.5, spanGaps: true, points: { show: c.steps.length < 40 } }))],
        },
        [steps, ...series] as never,
        box.current,
      );
    });
    return () => {
      cancelled = true;
      plot?.destroy();
    };
    // Redraw when the data changes (new steps), not on every render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, height]);
  return (
    <figure className="card" style={{ margin: 0 }} data-chart={title}>
      <figcaption><strong>{title}</strong></figcaption>
      <div ref={box} style={{ width: "100%", minHeight: height }} />
    </figure>
  );
}
