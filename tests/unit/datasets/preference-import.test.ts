import { describe, expect, it } from "vitest";
import { renderHhTranscript, parseHhTranscript, toHhPreference } from "~/domain/datasets/formats/hh";
import { preferencePairs } from "~/domain/datasets/formats/pairs";
import { toTrlExplicitPreference, toTrlImplicitPreference, toTrlStandardPreference } from "~/domain/datasets/formats/preference";
import { conversationKeys, type LineResult } from "~/domain/datasets/import-lines";
import { parseHhPreferenceLine, parseTrlPreferenceLine, type ImportedPreference } from "~/domain/datasets/preference-import";
import { rankedSet } from "./records";

const itemOf = (result: LineResult<ImportedPreference>): ImportedPreference => {
  if (result.kind !== "item") throw new Error(JSON.stringify(result));
  return result.item;
};
const reasons = (result: LineResult<unknown>) => (result.kind === "error" ? result.errors.map((e) => `${e.line}: ${e.reason}`) : []);
/** "skipped" or "item", then each warning as "line kind: reason". */
const warned = (result: LineResult<unknown>) =>
  result.kind === "skipped" || result.kind === "item" ? [result.kind, ...(result.warnings ?? []).map((w) => `${w.line} ${w.kind}: ${w.reason}`)] : [result.kind];

const hhLine = {
  chosen: "\n\nHuman: Name a prime.\n\nAssistant: 7 is prime.\n\nHuman: Another one?\n\nAssistant: 11.",
  rejected: "\n\nHuman: Name a prime.\n\nAssistant: 7 is prime.\n\nHuman: Another one?\n\nAssistant: 13 is one.",
};

describe("HH transcripts", () => {
  it("parse into turns and render back unchanged", () => {
    const parsed = parseHhTranscript(hhLine.chosen);
    expect(parsed).toEqual({
      ok: true,
      turns: [
        { role: "prompter", text: "Name a prime." },
        { role: "assistant", text: "7 is prime." },
        { role: "prompter", text: "Another one?" },
        { role: "assistant", text: "11." },
      ],
    });
    if (parsed.ok) expect(renderHhTranscript(parsed.turns)).toBe(hhLine.chosen);
    expect(parseHhTranscript("Human: hi\n\nAssistant: hello").ok).toBe(true);
    expect(parseHhTranscript("hello")).toEqual({ ok: false, reason: 'transcript must start with "\\n\\nHuman:" (or "\\n\\nAssistant:")' });
  });

  it("an HH line becomes prompt, chosen and rejected", () => {
    const item = itemOf(parseHhPreferenceLine(JSON.stringify(hhLine), 1));
    expect(item.source).toBe("hh");
    expect(item.prompt.map((t) => t.text)).toEqual(["Name a prime.", "7 is prime.", "Another one?"]);
    expect(item.chosen).toEqual({ role: "assistant", text: "11." });
    expect(item.rejected).toEqual({ role: "assistant", text: "13 is one." });
    expect(item.margin).toBeNull();
  });

  it("reports bad HH lines", () => {
    expect(reasons(parseHhPreferenceLine('{"chosen": "x"', 4))[0]).toMatch(/^4: malformed JSON/);
    expect(reasons(parseHhPreferenceLine(JSON.stringify({ chosen: hhLine.chosen }), 5))).toEqual(["5: rejected: missing field"]);
    expect(reasons(parseHhPreferenceLine(JSON.stringify({ chosen: hhLine.chosen, rejected: 3 }), 6))).toEqual([
      "6: rejected: Expected string, received number",
    ]);
    expect(reasons(parseHhPreferenceLine(JSON.stringify({ chosen: "oops", rejected: "no" }), 10))).toEqual([
      '10: chosen: transcript must start with "\\n\\nHuman:" (or "\\n\\nAssistant:")',
      '10: rejected: transcript must start with "\\n\\nHuman:" (or "\\n\\nAssistant:")',
    ]);
  });

  it("skips identical, empty and over-long replies with a warning, and refuses nothing readable", () => {
    const hh = (value: unknown, line: number, limits = {}) => warned(parseHhPreferenceLine(JSON.stringify(value), line, limits));
    expect(hh({ chosen: hhLine.chosen, rejected: hhLine.chosen }, 7)).toEqual(["skipped", "7 identical_replies: chosen and rejected are identical"]);
    const empty = { ...hhLine, rejected: "\n\nHuman: Name a prime.\n\nAssistant: 7 is prime.\n\nHuman: Another one?\n\nAssistant:" };
    expect(hh(empty, 8)).toEqual(["skipped", "8 empty_text: rejected: text is empty"]);
    expect(hh(hhLine, 11, { maxTextLength: 12 })).toEqual([
      "skipped",
      "11 text_over_limit: prompt turn 1: text has 13 characters, more than the import limit 12",
    ]);
    // A long reply is kept as written when under the import limit.
    const long = { ...hhLine, chosen: `${hhLine.chosen} ${"very ".repeat(2_000)}long.` };
    expect(itemOf(parseHhPreferenceLine(JSON.stringify(long), 1)).chosen.text).toBe(`11. ${"very ".repeat(2_000)}long.`);
  });

  it("merges consecutive turns of one speaker and says which", () => {
    const split = {
      chosen: "\n\nHuman: Name a prime.\n\nAssistant: 7 is prime.\n\nAssistant:  So is 11.",
      rejected: "\n\nHuman: Name a prime.\n\nAssistant: 9.",
    };
    const result = parseHhPreferenceLine(JSON.stringify(split), 3);
    expect(warned(result)).toEqual(["item", "3 turns_merged: chosen: turns 2–3 (assistant) merged into one turn each"]);
    expect(itemOf(result).chosen.text).toBe("7 is prime.\n\n So is 11.");
    expect(itemOf(result).rejected.text).toBe("9.");
  });

  it("imports a pair that parts before its last turn where it parts, keeping the later turns", () => {
    const fork = { ...hhLine, rejected: "\n\nHuman: Name a prime.\n\nAssistant: 5.\n\nHuman: Another one?\n\nAssistant: 3." };
    const result = parseHhPreferenceLine(JSON.stringify(fork), 9);
    expect(warned(result)).toEqual([
      "item",
      "9 diverges_early: chosen and rejected part at turn 2, not at their last turn (chosen adds 2 turns after it, rejected adds 2 turns after it): the pair is imported at turn 2, the later turns kept under its replies",
    ]);
    const item = itemOf(result);
    expect(item.prompt).toEqual([{ role: "prompter", text: "Name a prime." }]);
    expect([item.chosen.text, item.rejected.text]).toEqual(["7 is prime.", "5."]);
    expect(item.chosen_path.map((t) => t.text)).toEqual(["Name a prime.", "7 is prime.", "Another one?", "11."]);
    expect(item.rejected_path.map((t) => t.text)).toEqual(["Name a prime.", "5.", "Another one?", "3."]);
    const atUser = { chosen: "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Bye", rejected: "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Ciao" };
    expect(warned(parseHhPreferenceLine(JSON.stringify(atUser), 2))).toEqual([
      "skipped",
      "2 diverges_at_user_turn: chosen and rejected part at turn 3, which is not an assistant reply on both sides",
    ]);
    const prefix = { chosen: "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Bye", rejected: "\n\nHuman: Hi\n\nAssistant: Hello." };
    expect(warned(parseHhPreferenceLine(JSON.stringify(prefix), 4))).toEqual([
      "skipped",
      "4 no_shared_prompt: chosen only continues the other side's conversation (from turn 3): there is no pair of replies",
    ]);
  });

  it("skips a transcript that starts with an Assistant turn, naming the kind", () => {
    const greeting = {
      chosen: "\n\nAssistant: Hi! How can I help you today?\n\nHuman: What's a good name for a cat?\n\nAssistant: How about Miso?",
      rejected: "\n\nAssistant: Hi! How can I help you today?\n\nHuman: What's a good name for a cat?\n\nAssistant: Cat.",
    };
    expect(warned(parseHhPreferenceLine(JSON.stringify(greeting), 12))).toEqual([
      "skipped",
      "12 starts_with_assistant: chosen and rejected start with an assistant turn: a conversation here starts with the user's prompt",
    ]);
    const oneSide = { ...greeting, rejected: "\n\nHuman: What's a good name for a cat?\n\nAssistant: Cat." };
    expect(warned(parseHhPreferenceLine(JSON.stringify(oneSide), 13))).toEqual([
      "skipped",
      "13 starts_with_assistant: chosen starts with an assistant turn: a conversation here starts with the user's prompt",
    ]);
  });
});

describe("TRL preference lines with quirks, handled as HH lines are", () => {
  const user = (content: string) => ({ role: "user", content });
  const assistant = (content: string) => ({ role: "assistant", content });
  const trl = (value: unknown, line: number) => parseTrlPreferenceLine(JSON.stringify(value), line);

  it("an explicit prompt's consecutive user turns are merged and named once, as the prompt's", () => {
    const line = {
      prompt: [user("I need a subject line for an email to my landlord."), user("The heating has been broken for a week.")],
      chosen: [assistant("Heating out since last Monday: repair needed")],
      rejected: [assistant("Hello")],
    };
    const result = trl(line, 4);
    expect(warned(result)).toEqual(["item", "4 turns_merged: prompt: turns 1–2 (user) merged into one turn each"]);
    const item = itemOf(result);
    expect(item.source).toBe("trl_explicit");
    expect(item.prompt).toEqual([{ role: "prompter", text: "I need a subject line for an email to my landlord.\n\nThe heating has been broken for a week." }]);
    expect([item.chosen.text, item.rejected.text]).toEqual(["Heating out since last Monday: repair needed", "Hello"]);
  });

  it("a reply given as two assistant messages is merged, numbered in the whole conversation", () => {
    const line = {
      prompt: [user("How do I reverse a list in Python?")],
      chosen: [assistant("Use slicing:"), assistant("`xs[::-1]` returns a reversed copy; `xs.reverse()` reverses in place.")],
      rejected: [assistant("You can't.")],
      margin: 2,
    };
    const result = trl(line, 7);
    expect(warned(result)).toEqual(["item", "7 turns_merged: chosen: turns 2–3 (assistant) merged into one turn each"]);
    expect(itemOf(result).chosen.text).toBe("Use slicing:\n\n`xs[::-1]` returns a reversed copy; `xs.reverse()` reverses in place.");
    expect(itemOf(result).margin).toBe(2);
  });

  it("a prompt ending with an assistant turn: the turn and each reply are merged, as consecutive HH turns are", () => {
    const line = {
      prompt: [user("Write a haiku about rain."), assistant("Here is one:")],
      chosen: [assistant("Soft rain on the roof\nthe kettle begins to sing\nno one is coming")],
      rejected: [assistant("Rain rain go away")],
    };
    const result = trl(line, 2);
    expect(warned(result)).toEqual([
      "item",
      "2 turns_merged: chosen: turns 2–3 (assistant) merged into one turn each",
      "2 turns_merged: rejected: turns 2–3 (assistant) merged into one turn each",
    ]);
    const item = itemOf(result);
    expect(item.prompt).toEqual([{ role: "prompter", text: "Write a haiku about rain." }]);
    expect(item.chosen.text).toBe("Here is one:\n\nSoft rain on the roof\nthe kettle begins to sing\nno one is coming");
    expect(item.rejected.text).toBe("Here is one:\n\nRain rain go away");
  });

  it("replies that go on for more turns are imported where they part, the later turns kept", () => {
    const line = {
      prompt: [user("Recommend a book.")],
      chosen: [assistant("Try *Piranesi*."), user("Why?"), assistant("It is short and strange.")],
      rejected: [assistant("Read more.")],
    };
    const result = trl(line, 5);
    expect(warned(result)).toEqual([
      "item",
      "5 diverges_early: chosen and rejected part at turn 2, not at their last turn (chosen adds 2 turns after it): the pair is imported at turn 2, the later turns kept under its replies",
    ]);
    expect(itemOf(result).chosen_path.map((t) => t.text)).toEqual(["Recommend a book.", "Try *Piranesi*.", "Why?", "It is short and strange."]);
  });

  it("a conversation opening with an assistant turn is skipped, explicit or implicit", () => {
    const greeting = assistant("Hello! I'm here to help.");
    const explicit = { prompt: [greeting, user("Is 91 prime?")], chosen: [assistant("No: 7 × 13.")], rejected: [assistant("Yes.")] };
    expect(warned(trl(explicit, 3))).toEqual([
      "skipped",
      "3 starts_with_assistant: prompt starts with an assistant turn: a conversation here starts with the user's prompt",
    ]);
    const implicit = { chosen: [greeting, user("Is 91 prime?"), assistant("No: 7 × 13.")], rejected: [greeting, user("Is 91 prime?"), assistant("Yes.")] };
    expect(warned(trl(implicit, 6))).toEqual([
      "skipped",
      "6 starts_with_assistant: chosen and rejected start with an assistant turn: a conversation here starts with the user's prompt",
    ]);
  });

  it("a system message is skipped with its kind, never dropped; unknown roles are still refused", () => {
    const system = { role: "system", content: "You are a pirate. Answer in pirate speak." };
    const explicit = { prompt: [system, user("Where is the treasure?")], chosen: [assistant("Arr, under the palm!")], rejected: [assistant("I don't know.")] };
    expect(warned(trl(explicit, 8))).toEqual([
      "skipped",
      "8 system_message: prompt[0] is a system message: a conversation here holds user and assistant turns only, and the pair without it would not be the pair as written",
    ]);
    const implicit = { chosen: [system, user("Hi"), assistant("Ahoy!")], rejected: [system, user("Hi"), assistant("Hello.")] };
    expect(warned(trl(implicit, 9))).toEqual([
      "skipped",
      "9 system_message: chosen[0], rejected[0] are system messages: a conversation here holds user and assistant turns only, and the pair without them would not be the pair as written",
    ]);
    expect(reasons(trl({ ...explicit, chosen: [{ role: "tool", content: "{}" }] }, 10))).toEqual([
      '10: chosen[0].role: unknown role "tool" (expected user, assistant or system)',
    ]);
  });
});

describe("TRL preference lines", () => {
  const msgs = [
    { role: "user", content: "Name a prime." },
    { role: "assistant", content: "7 is prime." },
    { role: "user", content: "Another one?" },
  ];

  it("explicit prompt with message lists, margin kept", () => {
    const line = { prompt: msgs, chosen: [{ role: "assistant", content: "11." }], rejected: [{ role: "assistant", content: "13 is one." }], margin: 0.5 };
    const item = itemOf(parseTrlPreferenceLine(JSON.stringify(line), 1));
    expect(item.source).toBe("trl_explicit");
    expect(item.prompt).toHaveLength(3);
    expect(item.margin).toBe(0.5);
    expect(item.chosen.text).toBe("11.");
  });

  it("implicit prompt with message lists", () => {
    const line = { chosen: [...msgs, { role: "assistant", content: "11." }], rejected: [...msgs, { role: "assistant", content: "13 is one." }] };
    const item = itemOf(parseTrlPreferenceLine(JSON.stringify(line), 1));
    expect(item.source).toBe("trl_implicit");
    expect(item.prompt.map((t) => t.role)).toEqual(["prompter", "assistant", "prompter"]);
  });

  it("explicit and implicit plain strings (implicit split as TRL does)", () => {
    const explicit = itemOf(parseTrlPreferenceLine(JSON.stringify({ prompt: "The sky is", chosen: " blue.", rejected: " green." }), 1));
    expect([explicit.prompt[0].text, explicit.chosen.text, explicit.rejected.text]).toEqual(["The sky is", " blue.", " green."]);
    const implicit = itemOf(parseTrlPreferenceLine(JSON.stringify({ chosen: "The sky is blue.", rejected: "The sky is green." }), 1));
    expect([implicit.prompt[0].text, implicit.chosen.text, implicit.rejected.text]).toEqual(["The sky is", " blue.", " green."]);
    expect(implicit.content_hash).toBe(explicit.content_hash);
    const hh = itemOf(parseTrlPreferenceLine(JSON.stringify(hhLine), 1));
    expect(hh.prompt).toHaveLength(3);
  });

  it("reports bad TRL lines", () => {
    const r = (value: unknown, line = 1) => reasons(parseTrlPreferenceLine(JSON.stringify(value), line));
    expect(r({ prompt: msgs, chosen: [{ role: "bot", content: "x" }], rejected: [{ role: "assistant", content: "y" }] })).toEqual([
      '1: chosen[0].role: unknown role "bot" (expected user, assistant or system)',
    ]);
    expect(r({ prompt: "p", chosen: [{ role: "assistant", content: "x" }], rejected: "y" })).toEqual([
      "1: prompt, chosen and rejected must be all strings or all message lists",
    ]);
    expect(r({ prompt: msgs, chosen: 5, rejected: "y" })).toEqual(["1: chosen: must be a string or a list of {role, content} messages"]);
    expect(r({ prompt: msgs, rejected: "y" })).toEqual(["1: chosen: missing field"]);
    expect(r({ prompt: msgs, chosen: [], rejected: [{ role: "assistant", content: "y" }] })).toEqual(["1: chosen: no messages"]);
    expect(r({ prompt: [], chosen: [{ role: "assistant", content: "x" }], rejected: [{ role: "assistant", content: "y" }] })).toEqual(["1: prompt: no messages"]);
    const w = (value: unknown, line = 1) => warned(parseTrlPreferenceLine(JSON.stringify(value), line));
    expect(w({ chosen: "abc", rejected: "xyz" })).toEqual(["skipped", "1 no_shared_prompt: chosen and rejected share no prompt"]);
    expect(w({ chosen: "same", rejected: "same" }, 3)).toEqual(["skipped", "3 identical_replies: chosen and rejected are identical"]);
    expect(w({ prompt: "p", chosen: "", rejected: "b" })).toEqual(["skipped", "1 empty_text: chosen: text is empty"]);
    expect(r({ prompt: "p", chosen: "a", rejected: "b", margin: "big" })).toEqual(["1: margin: Expected number, received string"]);
  });
});

describe("import round trip from our own exports", () => {
  const record = rankedSet();
  const pairs = preferencePairs(record);

  it("HH, TRL implicit and explicit exports of a pair import to the same item and hash", () => {
    for (const pair of pairs) {
      const fromHh = itemOf(parseHhPreferenceLine(JSON.stringify(toHhPreference(pair)), 1));
      const fromImplicit = itemOf(parseTrlPreferenceLine(JSON.stringify(toTrlImplicitPreference(pair)), 1));
      const fromExplicit = itemOf(parseTrlPreferenceLine(JSON.stringify(toTrlExplicitPreference(pair, { margin: "bt_score" })), 1));
      expect(fromHh.prompt).toEqual(pair.prompt.map(({ role, text }) => ({ role, text })));
      expect(fromHh.chosen.text).toBe(pair.chosen.text);
      expect(fromHh.rejected.text).toBe(pair.rejected.text);
      expect(fromImplicit.content_hash).toBe(fromHh.content_hash);
      expect(fromExplicit.content_hash).toBe(fromHh.content_hash);
      expect(fromExplicit.margin).toBe(pair.bt_gap);
    }
    expect(new Set(pairs.map((p) => itemOf(parseHhPreferenceLine(JSON.stringify(toHhPreference(p)), 1)).content_hash)).size).toBe(3);
  });

  it("re-importing gives identical hashes; pairs of one prompt share its keys", () => {
    const lines = pairs.map((p) => JSON.stringify(toTrlExplicitPreference(p)));
    const first = lines.map((l, i) => itemOf(parseTrlPreferenceLine(l, i + 1)));
    const second = lines.map((l, i) => itemOf(parseTrlPreferenceLine(l, i + 1)));
    expect(second).toEqual(first);
    expect(new Set(first.map((i) => i.prompt_keys.join()))).toHaveProperty("size", 1);
    expect(first[0].prompt_keys).toEqual(conversationKeys(first[0].prompt));
    // cA is chosen in two pairs and maps to one message key; cB is rejected once and chosen once.
    expect(first[0].chosen_key).toBe(first[1].chosen_key);
    expect(first[0].rejected_key).toBe(first[2].chosen_key);
  });

  it("standard strings round trip for one-turn prompts", () => {
    const single = preferencePairs(rankedSet({ id: "p1", conversation: [record.conversation[0]] }))[0];
    const item = itemOf(parseTrlPreferenceLine(JSON.stringify(toTrlStandardPreference(single)), 1));
    expect([item.prompt[0].text, item.chosen.text, item.rejected.text]).toEqual(["Name a prime.", "11.", "13 is one."]);
  });
});
