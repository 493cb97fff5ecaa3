// Interactive transactions for the labeling services, with waits sized for bursts of labelers.
import { prisma } from "~/db.server.ts";
import type { Prisma } from "~/generated/prisma/client.ts";

/** Runs `fn` in one transaction. Waits longer than Prisma's defaults for a pooled connection:
 *  under a burst every request queues for one, and failing then would drop a labeler's work. */
export function inTransaction<T>(fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  return prisma.$transaction(fn, { maxWait: 15_000, timeout: 30_000 });
}
