// Driver adapter for the Prisma CLI only (migrate deploy/diff/status). The runtime client
// never loads this file. It works around three problems of @prisma/adapter-pg 6.19 under
// the WASM schema engine, which is the only engine that runs without a download here:
// - catalog columns of type `name` (OID 19) and `"char"` (OID 18) are rejected: report them as text;
// - a connectionString makes the shadow pool reuse the main database: pass separate fields;
// - the shadow database was dropped before its pool closed: close first, then drop;
// - a whole migration script sent as one parameterless statement fails under the extended
//   protocol ("cannot insert multiple commands"): send those with the simple protocol.
import { PrismaPg } from "@prisma/adapter-pg";
import type { PoolConfig } from "pg";

const TEXT_OID = 25;
const CATALOG_TEXT_OIDS = new Set([18, 19]);

type SqlQuery = { sql: string; args: unknown[] };
type Queryable = {
  client: { query: (sql: string) => Promise<{ rowCount: number | null }> };
  performIO: (q: unknown) => Promise<{ fields: { dataTypeID: number }[] }>;
  executeRaw: (q: SqlQuery) => Promise<number>;
};
type AdapterLike = Queryable & {
  client: { query: (sql: string) => Promise<unknown> };
  onError: (error: unknown) => never;
  startTransaction: (...args: unknown[]) => Promise<Queryable>;
  executeScript: (sql: string) => Promise<void>;
  dispose: () => Promise<void>;
};

function patchCatalogTypes<T extends Queryable>(q: T): T {
  const performIO = q.performIO.bind(q);
  q.performIO = async (query) => {
    const result = await performIO(query);
    // A multi-statement script returns one result per statement.
    for (const r of Array.isArray(result) ? result : [result])
      for (const f of r.fields ?? []) if (CATALOG_TEXT_OIDS.has(f.dataTypeID)) f.dataTypeID = TEXT_OID;
    return result;
  };
  return q;
}

function patchAdapter(adapter: AdapterLike): AdapterLike {
  patchCatalogTypes(adapter);
  adapter.executeScript = async (script) => {
    try {
      await adapter.client.query(script);
    } catch (error) {
      adapter.onError(error);
    }
  };
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (...args) => patchCatalogTypes(await startTransaction(...args));
  return adapter;
}

export function poolConfigFromUrl(url: string): PoolConfig {
  const u = new URL(url);
  return {
    host: decodeURIComponent(u.hostname),
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || "postgres"),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: decodeURIComponent(u.pathname.replace(/^\//, "")) || "postgres",
  };
}

export class CliPrismaPg extends PrismaPg {
  private readonly poolConfig: PoolConfig;
  constructor(config: PoolConfig) {
    // allowExitOnIdle: idle pooled connections must not keep the CLI process alive.
    super({ ...config, allowExitOnIdle: true });
    this.poolConfig = { ...config, allowExitOnIdle: true };
  }

  override async connect() {
    return patchAdapter((await super.connect()) as unknown as AdapterLike) as never;
  }

  override async connectToShadowDb() {
    const admin = (await this.connect()) as unknown as AdapterLike;
    const database = `prisma_migrate_shadow_db_${globalThis.crypto.randomUUID().replace(/-/g, "")}`;
    await admin.executeScript(`CREATE DATABASE "${database}"`);
    const shadow = (await new PrismaPg({ ...this.poolConfig, database }).connect()) as unknown as AdapterLike;
    patchAdapter(shadow);
    const dispose = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await dispose();
      await admin.executeScript(`DROP DATABASE IF EXISTS "${database}"`);
      await admin.dispose();
    };
    return shadow as never;
  }
}
