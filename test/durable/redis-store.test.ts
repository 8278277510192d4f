/**
 * The durable store conformance suite on the Redis store, against a private redis-server
 * (test/support/redis.ts); skipped, loudly, only where none can be installed.
 */
import { afterAll, beforeAll } from "vitest";
import { RedisStore } from "weft";
import { redisSkip, startRedis, type TestRedis } from "../support/redis.js";
import { describeStoreConformance } from "./store-conformance.js";

let redis: TestRedis | undefined;
let n = 0;
beforeAll(async () => {
  if (!redisSkip) redis = await startRedis();
}, 30_000);
afterAll(() => redis?.dispose());

// A fresh key prefix per test: the same isolation as a fresh file.
describeStoreConformance("RedisStore", () => new RedisStore({ redis: redis!.url, prefix: `t${n++}` }), redisSkip ? { skip: redisSkip } : {});
