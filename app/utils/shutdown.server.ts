// While a process stops, the database may close its connections first: Ctrl+C in a terminal
// reaches an embedded Postgres (same process group) as it reaches the web server and workers.
// Postgres then ends every session with 57P01 ("terminating connection due to administrator
// command"), which pg raises on whichever client holds the connection. That is expected while
// stopping and must not turn a clean stop into a crash; any other error still ends the process.
const ADMIN_SHUTDOWN = "57P01";

function expectedWhileStopping(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === ADMIN_SHUTDOWN;
}

/** Call once shutdown has begun. */
export function tolerateDatabaseShutdown(who: string): void {
  const onError = (error: unknown) => {
    if (expectedWhileStopping(error)) return;
    console.error(`${who}: error while stopping`, error);
    process.exit(1);
  };
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
}
