// Work a worker process repeats on a timer: once at start, then every `seconds` (0: never), one
// run at a time, so a slow run delays the next instead of overlapping it. Stopping waits for the
// run under way.
export function repeatEvery(seconds: number, name: string, work: () => Promise<void>): () => Promise<void> {
  if (seconds <= 0) return async () => {};
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = running.then(work).catch((e: Error) => console.error(`${name}: ${e.message}`));
  };
  const timer = setInterval(tick, seconds * 1000);
  tick();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
