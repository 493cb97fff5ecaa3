// What an admin asks the playground for: a conversation, parameters, and K.
import { z } from "zod";
import { SamplingParamsSchema } from "./config.ts";

export const PlaygroundInputSchema = z.object({
  conversation: z
    .array(z.object({ role: z.enum(["prompter", "assistant"]), text: z.string().trim().min(1, "a turn is empty").max(20_000) }))
    .min(1, "write a prompt")
    .max(64)
    // Zod runs the refinement even when .min(1) failed: an empty list is reported by that check alone.
    .refine((turns) => turns.length === 0 || turns[turns.length - 1].role === "prompter", "the conversation must end with a user turn"),
  params: SamplingParamsSchema,
  k: z.number().int().min(1, "K must be at least 1").max(16, "K must be at most 16"),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
});
export type PlaygroundInput = z.infer<typeof PlaygroundInputSchema>;

export type PlaygroundResult = {
  provider: string;
  promptTokens: number;
  completions: { text: string; numTokens: number; finishReason: string; meanLogprob: number; seed: number }[];
  duplicates: number;
  tokensPerSecond: number;
  prefillTokensPerSecond: number;
  totalMs: number;
};
