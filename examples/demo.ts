/** `npm run demo`: the main demo. */
import { main as quickstart } from "./quickstart.js";

console.log("weft demo: the similarity pipeline (pymai quick-start)\n");
await quickstart();
