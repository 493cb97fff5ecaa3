// Revalidates the page's loaders every `ms` while `active` (live progress of background jobs).
import { useRevalidator } from "@remix-run/react";
import { useEffect } from "react";

export function usePolling(active: boolean, ms = 1000) {
  const { revalidate, state } = useRevalidator();
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => state === "idle" && revalidate(), ms);
    return () => clearInterval(t);
  }, [active, ms, revalidate, state]);
}
