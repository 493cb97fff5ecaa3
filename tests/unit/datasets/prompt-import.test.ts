import { describe, expect, it } from "vitest";
import { toPromptOnlyConversational, toPromptOnlyText } from "~/domain/datasets/formats/prompt-only";
import type { LineResult } from "~/domain/datasets/import-lines";
import { parsePromptLine, type ImportedPrompt } from "~/domain/datasets/prompt-import";

const itemOf = (result: LineResult<ImportedPrompt>): ImportedPrompt => {
  if (result.kind !== "item") throw new Error(JSON.stringify(result));
  return result.item;
};
const reasons = (result: LineResult<unknown>) => (result.kind === "error" ? result.errors.map((e) => `${e.line}: ${e.reason}`) : []);

describe("prompt lines", () => {
  it("a JSON string, {prompt: string} and a text line are the same prompt", () => {
    const fromString = itemOf(parsePromptLine('"Can you tell me about GLaDOS?"', 1));
    const fromObject = itemOf(parsePromptLine('{"prompt": "Can you tell me about GLaDOS?"}', 2));
    const fromText = itemOf(parsePromptLine("  Can you tell me about GLaDOS?\r", 3));
    expect(fromString.turns).toEqual([{ role: "prompter", text: "Can you tell me about GLaDOS?" }]);
    expect(fromObject).toEqual(fromString);
    expect(fromText).toEqual(fromString);
    expect(fromString.turn_keys).toEqual([fromString.content_hash]);
  });

  it("conversational prompts keep their turns and give one key per turn", () => {
    const line = JSON.stringify({
      prompt: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello!" },
        { role: "user", content: "Tell me a joke." },
      ],
    });
    const item = itemOf(parsePromptLine(line, 1));
    expect(item.turns.map((t) => t.role)).toEqual(["prompter", "assistant", "prompter"]);
    expect(item.turn_keys).toHaveLength(3);
    expect(item.turn_keys[0]).toBe(itemOf(parsePromptLine("Hi", 1)).content_hash);
    expect(item.content_hash).toBe(item.turn_keys[2]);
  });

  it("our prompt-only exports import back", () => {
    const turns = [{ role: "prompter" as const, text: "Why is the sky blue?" }];
    expect(itemOf(parsePromptLine(JSON.stringify(toPromptOnlyText(turns)), 1)).turns).toEqual(turns);
    expect(itemOf(parsePromptLine(JSON.stringify(toPromptOnlyConversational(turns)), 1)).turns).toEqual(turns);
  });

  it("formats: text mode takes JSON-looking lines literally, json mode refuses plain text", () => {
    expect(itemOf(parsePromptLine('{"prompt": "x"}', 1, { format: "text" })).turns[0].text).toBe('{"prompt": "x"}');
    expect(reasons(parsePromptLine("plain words", 4, { format: "json" }))[0]).toMatch(/^4: malformed JSON/);
  });

  it("blank lines are skipped; bad lines report line and reason", () => {
    expect(parsePromptLine("   ", 9)).toEqual({ kind: "blank", line: 9 });
    expect(reasons(parsePromptLine('{"prompt": "unterminated', 2))[0]).toMatch(/^2: malformed JSON/);
    expect(reasons(parsePromptLine('{"text": "x"}', 3))).toEqual(["3: prompt: missing field"]);
    expect(reasons(parsePromptLine('{"prompt": 4}', 4))).toEqual(["4: prompt: must be a string or a list of {role, content} messages"]);
    expect(reasons(parsePromptLine("[1, 2]", 5))).toEqual(['5: expected a JSON string or {"prompt": string | messages}']);
    expect(parsePromptLine('""', 6)).toEqual({ kind: "skipped", line: 6, warnings: [{ line: 6, kind: "empty_text", reason: "text is empty" }] });
    expect(reasons(parsePromptLine('{"prompt": [{"role": "assistant", "content": "x"}]}', 7))).toEqual([
      "7: prompt: turn 1 must be user (roles alternate, starting with the user)",
    ]);
    expect(reasons(parsePromptLine('{"prompt": [{"role": "system", "content": "x"}]}', 8))).toEqual([
      '8: prompt[0].role: unknown role "system" (expected user or assistant)',
    ]);
    expect(reasons(parsePromptLine('{"prompt": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}', 9))).toEqual([
      "9: prompt must end with a user turn",
    ]);
    expect(parsePromptLine("abcdef", 10, { maxTextLength: 5 })).toMatchObject({
      kind: "skipped",
      warnings: [{ line: 10, kind: "text_over_limit", reason: "text has 6 characters, more than the import limit 5" }],
    });
  });

  it("counts code points, not UTF-16 units, against the limit", () => {
    expect(parsePromptLine("😀😀😀", 1, { maxTextLength: 3 }).kind).toBe("item");
  });
});
