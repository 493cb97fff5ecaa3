// Long messages start collapsed with a control to read them in full.
import { useState, type ReactNode } from "react";

const LONG_CHARS = 700;
const LONG_LINES = 14;

export const isLong = (text: string) => text.length > LONG_CHARS || text.split("\n").length > LONG_LINES;

export function Collapsible({ text, children }: { text: string; children: ReactNode }) {
  const long = isLong(text);
  const [open, setOpen] = useState(!long);
  return (
    <div className={open ? "collapsible" : "collapsible collapsed"}>
      <div className="collapsible-body">{children}</div>
      {long && (
        <button type="button" className="link-button" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? "Show less" : "Show the full text"}
        </button>
      )}
    </div>
  );
}
