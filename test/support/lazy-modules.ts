/**
 * Setup file (vitest.config.ts `setupFiles`): loads weft's lazily loaded modules before a
 * suite runs. In weft's JavaScript build they load on first use with `require`
 * (runtime/lazy.ts); vitest runs the TypeScript sources through its own module graph, which
 * `require` cannot see, so they are loaded here with `import`, as the build would load them
 * on first use. test/startup.test.ts checks, on the build, that importing weft loads none.
 */
import { preloadLazyModules } from "../../runtime/lazy.js";
import "../../index.js";

await preloadLazyModules();
