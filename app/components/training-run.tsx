// Small pieces the training pages share.

export function duration(from: string | null, to: string | null): string {
  if (!from) return "–";
  const s = Math.round(((to ? Date.parse(to) : Date.now()) - Date.parse(from)) / 1000);
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge ${status === "succeeded" ? "ok" : status === "failed" ? "bad" : ""}`}>{status}</span>;
}
