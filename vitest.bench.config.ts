import { BENCH_SMOKE, weftConfig } from "./vitest.config.js";

/** `npm run bench:smoke`: every benchmark suite once in quick mode, asserting no timing. */
export default weftConfig(BENCH_SMOKE, []);
