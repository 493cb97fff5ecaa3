// A Redis of a test's own (another port, nothing on disk) for fault tests: started, killed with
// SIGKILL and started again, empty, on the same port.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { freePort, waitFor } from "./server.ts";

export class PrivateRedis {
  private child: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  static async create(): Promise<PrivateRedis> {
    return new PrivateRedis(await freePort());
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    this.child = child;
    await waitFor(async () => child.exitCode === null && (await this.answers()), "redis-server");
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    this.child = null;
  }

  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect(this.port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
  }
}
