// A folded "report" form: flag a message for the moderators with a reason and a note.
import { Form } from "@remix-run/react";

const REASONS = [
  ["red_flag", "Harmful or dangerous"],
  ["offensive", "Offensive"],
  ["spam", "Spam"],
  ["pii", "Personal information"],
  ["other", "Something else"],
] as const;

export function ReportForm({ messageId, action }: { messageId: string; action?: string }) {
  return (
    <details className="report">
      <summary>Report this message</summary>
      <Form method="post" action={action} className="stack">
        <input type="hidden" name="intent" value="report" />
        <input type="hidden" name="messageId" value={messageId} />
        <label>
          Reason
          <select name="reason" defaultValue="red_flag">
            {REASONS.map(([value, text]) => <option key={value} value={value}>{text}</option>)}
          </select>
        </label>
        <label>
          Note (optional)
          <textarea name="text" maxLength={2000} rows={2} />
        </label>
        <button type="submit" className="danger">Report</button>
      </Form>
    </details>
  );
}
