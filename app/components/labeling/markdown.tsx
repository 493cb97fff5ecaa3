// Labeler text rendered as markdown, safely: raw HTML is never rendered (it shows as text),
// link targets go through react-markdown's URL filter (no javascript: links), and images are
// shown as links to them, so reading a message never makes the browser fetch from elsewhere.
import Markdown from "react-markdown";

export function SafeMarkdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <Markdown
        skipHtml={false}
        components={{
          // The URL filter empties unsafe targets; such a link is shown as its text alone.
          a: ({ href, children }) => (href ? <a href={href} target="_blank" rel="noopener noreferrer nofollow">{children}</a> : <span>{children}</span>),
          img: ({ src, alt }) =>
            src ? (
              <a href={typeof src === "string" ? src : undefined} target="_blank" rel="noopener noreferrer nofollow" className="image-link">
                image: {alt || src}
              </a>
            ) : (
              <span>image: {alt}</span>
            ),
        }}
      >
        {text}
      </Markdown>
    </div>
  );
}
