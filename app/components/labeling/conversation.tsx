// The conversation so far, root first, as chat bubbles; long messages collapsed.
import { roleName } from "~/domain/trees/enums.ts";
import { Collapsible } from "./collapsible.tsx";
import { SafeMarkdown } from "./markdown.tsx";

export interface ShownMessage {
  id: string;
  role: "prompter" | "assistant";
  text: string;
  mine?: boolean;
  /** Only when the project shows which replies a model wrote. */
  model?: string | null;
}

export function MessageBubble({ message, highlight = false, label }: { message: ShownMessage; highlight?: boolean; label?: string }) {
  return (
    <article className={`bubble ${message.role}${highlight ? " highlight" : ""}`} data-message-id={message.id}>
      <header className="bubble-head">
        <strong>{label ?? roleName(message.role)}</strong>
        {message.mine && <span className="badge">yours</span>}
        {message.model && <span className="badge">model: {message.model}</span>}
      </header>
      <Collapsible text={message.text}>
        <SafeMarkdown text={message.text} />
      </Collapsible>
    </article>
  );
}

export function Conversation({ messages, highlightLast = false }: { messages: ShownMessage[]; highlightLast?: boolean }) {
  if (messages.length === 0) return null;
  return (
    <section className="conversation" aria-label="Conversation so far">
      {messages.map((m, i) => (
        <MessageBubble key={m.id} message={m} highlight={highlightLast && i === messages.length - 1} />
      ))}
    </section>
  );
}
