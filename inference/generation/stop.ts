// Stop strings: after each token, decode only a short tail of the completion to look for a stop
// string, and decode the whole completion only when the tail has one.

export class StopMatcher {
  private readonly window: number;

  constructor(
    readonly stops: string[],
    private readonly decode: (ids: number[]) => string,
  ) {
    // A stop string of b UTF-8 bytes spans at most b tokens, plus one it may start inside.
    this.window = Math.max(...stops.map((s) => Buffer.byteLength(s, "utf8"))) + 2;
  }

  /** Index in decode(tokens) where the earliest stop string starts, or -1. */
  check(tokens: number[]): number {
    const tail = this.decode(tokens.slice(-this.window));
    if (!this.stops.some((s) => tail.includes(s))) return -1;
    return this.firstIndex(this.decode(tokens));
  }

  firstIndex(text: string): number {
    let best = -1;
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) best = i;
    }
    return best;
  }
}
