// Chooses what to work on: "anything" (the server draws by the project's weights) or one task
// type, with how many of each the labeler may take now and how many they hold already.
const TYPE_NAMES: Record<string, string> = {
  initial_prompt: "Write a new prompt",
  assistant_reply: "Reply as the assistant",
  prompter_reply: "Reply as the user",
  label_initial_prompt: "Review a prompt",
  label_assistant_reply: "Review an assistant reply",
  label_prompter_reply: "Review a user reply",
  rank_assistant_replies: "Rank assistant replies",
  rank_prompter_replies: "Rank user replies",
};

export const taskTypeName = (type: string) => TYPE_NAMES[type] ?? type.replaceAll("_", " ");

/** "3", or "0 · you hold 1": a held task is not counted as available (the draw does not hand
 *  a labeler a place they hold), but it is why a kind may show none. */
export function taskCount(available: number, held = 0): string {
  return held > 0 ? `${available} · you hold ${held}` : String(available);
}

export function TaskTypePicker({
  available,
  held = {},
  languages,
  defaultType = "random",
}: {
  available: Record<string, number>;
  held?: Record<string, number>;
  languages: string[];
  defaultType?: string;
}) {
  return (
    <>
      <label>
        Task
        <select name="type" defaultValue={defaultType} aria-label="Task type">
          <option value="random">Anything the project needs</option>
          {Object.entries(available).map(([type, n]) => (
            <option key={type} value={type}>
              {taskTypeName(type)} ({taskCount(n, held[type])})
            </option>
          ))}
        </select>
      </label>
      {languages.length > 1 && (
        <label>
          Language
          <select name="lang" defaultValue="">
            <option value="">Any</option>
            {languages.map((l) => (
              <option key={l} value={l}>{l}</option>
            ))}
          </select>
        </label>
      )}
    </>
  );
}
