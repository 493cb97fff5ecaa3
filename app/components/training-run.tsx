// Small pieces the training pages share.
import { useEffect, useRef } from "react";

export function duration(from: string | null, to: string | null): string {
  if (!from) return "–";
  const s = Math.round(((to ? Date.parse(to) : Date.now()) - Date.parse(from)) / 1000);
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge ${status === "succeeded" ? "ok" : status === "failed" ? "bad" : ""}`}>{status}</span>;
}

/** A run's log, kept scrolled to the newest line while it grows (unless the reader scrolled up). */
export function RunLog({ lines }: { lines: string[] }) {
  const box = useRef<HTMLPreElement>(null);
  const pinned = useRef(true);
  useEffect(() => {
    if (box.current && pinned.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines.length, lines.at(-1)]);
  return (
    <pre
      ref={box}
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
      style={{ maxHeight: "20rem", overflow: "auto", whiteSpace: "pre-wrap" }}
      data-testid="log"
    >
      {lines.join("\n") || "(nothing yet)"}
    </pre>
  );
}
