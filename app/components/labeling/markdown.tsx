// Labeler text rendered as markdown, safely: raw HTML is never rendered (it shows as text) and
// link targets go through react-markdown's URL filter (no javascript: links).
import Markdown from "react-markdown";

export function SafeMarkdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <Markdown
        skipHtml={false}
        components={{ a: ({ href, children }) => <a href={href} target="_blank" rel="noopener noreferrer nofollow">{children}</a> }}
      >
        {text}
      </Markdown>
    </div>
  );
}
