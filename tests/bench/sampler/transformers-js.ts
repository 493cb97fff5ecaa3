// Benchmark child: @huggingface/transformers generate on the same model directory. Argument: "plain"
// or "default" (sampling parameters, see setup.ts).
// transformers.js 4.x ignores num_return_sequences when sampling (it returns one sequence per input
// row), so the k completions are asked for the way num_return_sequences does it: each prompt
// repeated k times in the one batch.

import { AutoModelForCausalLM, AutoTokenizer, env, type Tensor } from "@huggingface/transformers";
import { BENCH, benchPrompts, benchSampling, paramsMode, peakRssMb, RESULT_PREFIX } from "./setup";

env.allowRemoteModels = false;
const tokenizer = await AutoTokenizer.from_pretrained(BENCH.modelDir);
const model = await AutoModelForCausalLM.from_pretrained(BENCH.modelDir, {
  dtype: "fp32",
  device: "cpu",
  session_options: { intraOpNumThreads: BENCH.threads, interOpNumThreads: 1 },
});
tokenizer.padding_side = "left";
const texts = benchPrompts().map(
  (text) => tokenizer.apply_chat_template([{ role: "user", content: text }], { tokenize: false, add_generation_prompt: true }) as string,
);
const batch = texts.flatMap((t) => Array<string>(BENCH.k).fill(t));
const params = benchSampling(paramsMode(process.argv[2]));
const sampling = {
  do_sample: true,
  temperature: params.temperature,
  top_k: params.topK,
  top_p: params.topP,
  repetition_penalty: params.repetitionPenalty,
};

// Warm-up, as for our sampler: the same call once, not timed.
const generate = async () => {
  const inputs = tokenizer(batch, { padding: true, add_special_tokens: false });
  const out = (await model.generate({ ...inputs, ...sampling, max_new_tokens: BENCH.newTokens, min_new_tokens: BENCH.newTokens } as never)) as Tensor;
  return { inputs, out };
};
await generate();

const started = performance.now();
const { inputs, out } = await generate();
const wallMs = performance.now() - started;
const [rows, total] = out.dims;
const generatedTokens = rows * (total - (inputs.input_ids as Tensor).dims[1]);
console.error(`transformers.js: ${rows} rows, ${generatedTokens} tokens in ${(wallMs / 1000).toFixed(2)} s`);
console.log(RESULT_PREFIX + JSON.stringify({ generatedTokens, wallMs, rows, peakRssMb: peakRssMb() }));
await model.dispose();
