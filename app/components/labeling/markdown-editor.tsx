// Markdown editor with a preview tab and a character count; Ctrl/Cmd+Enter submits the form.
import { useState, type KeyboardEvent } from "react";
import { SafeMarkdown } from "./markdown.tsx";

export function MarkdownEditor({
  name,
  maxLength,
  defaultValue = "",
  placeholder,
  label,
}: {
  name: string;
  maxLength: number;
  defaultValue?: string;
  placeholder?: string;
  label: string;
}) {
  const [text, setText] = useState(defaultValue);
  const [tab, setTab] = useState<"write" | "preview">("write");
  const over = text.length > maxLength;
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      e.currentTarget.form?.requestSubmit();
    }
  };
  return (
    <div className="editor">
      <div className="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={tab === "write"} className={tab === "write" ? "tab active" : "tab"} onClick={() => setTab("write")}>
          Write
        </button>
        <button type="button" role="tab" aria-selected={tab === "preview"} className={tab === "preview" ? "tab active" : "tab"} onClick={() => setTab("preview")}>
          Preview
        </button>
      </div>
      <label className="sr-only" htmlFor={`${name}-editor`}>{label}</label>
      <textarea
        id={`${name}-editor`}
        name={name}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        placeholder={placeholder}
        required
        rows={10}
        hidden={tab !== "write"}
        aria-invalid={over}
      />
      {tab === "preview" && (
        <div className="preview" data-testid="preview">
          {text.trim() ? <SafeMarkdown text={text} /> : <p className="muted">Nothing to preview.</p>}
        </div>
      )}
      <p className={over ? "error" : "muted small"}>
        {text.length} / {maxLength} characters · Markdown supported · Ctrl/⌘+Enter submits
      </p>
    </div>
  );
}
