// Trains the demo policy (training/demo-policy.ts) into a model directory and prints its
// validation loss and perplexity against the random model, with sample replies.
// Usage: npx tsx training/scripts/build-demo-policy.ts [outDir] [--steps N]
import { parseArgs } from "node:util";
import { loadCausalLM } from "../../inference/causal-lm";
import { buildDemoPolicy, DEMO_POLICY_DIR } from "../demo-policy";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { steps: { type: "string" } } });
const outDir = positionals[0] ?? DEMO_POLICY_DIR;
const t0 = Date.now();
const { result, randomValidationLoss } = await buildDemoPolicy(outDir, {
  config: values.steps ? { maxSteps: Number(values.steps) } : {},
  hooks: {
    onStep: (s) => {
      if (s.step % 25 === 0 || s.step === s.totalSteps) console.error(`step ${s.step}/${s.totalSteps} loss ${s.loss.toFixed(3)} ${Math.round(s.tokensPerSecond)} tok/s ETA ${Math.round(s.etaSeconds)} s`);
    },
    onEval: (e) => console.error(`step ${e.step}: validation loss ${e.validationLoss.toFixed(3)} (perplexity ${e.validationPerplexity.toFixed(1)})`),
  },
});
const m = result.metrics;
console.log(`trained ${result.step} steps in ${Math.round((Date.now() - t0) / 1000)} s on ${m.trainExamples} conversations (${m.tokensSeen} tokens)`);
console.log(`validation loss: random ${randomValidationLoss.toFixed(3)} (perplexity ${Math.exp(randomValidationLoss).toFixed(0)}), trained ${m.validationLoss!.toFixed(3)} (perplexity ${m.validationPerplexity!.toFixed(1)})`);
const lm = await loadCausalLM(outDir, { intraOpThreads: 2 });
const prompts = ["What is the best way to learn a new language?", "Can you explain what a black hole is?"];
const out = await lm.generate({ prompts: prompts.map((text) => [{ role: "prompter" as const, text }]), temperature: 0.8, topP: 0.95, maxNewTokens: 80, seed: 1 });
out.results.forEach((p, i) => console.log(`\n> ${prompts[i]}\n${p.completions[0].text}`));
await lm.dispose();
