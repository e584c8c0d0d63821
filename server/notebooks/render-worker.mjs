// Entry of a render worker thread (render-pool.ts). Plain JavaScript on purpose: Node runs it as is, from the
// source tree, in the dev server, under vitest and in the production build (Next never bundles it: the pool
// resolves it at run time). It registers tsx for this thread, as `./carnet start` does for the proxy, then loads
// the TypeScript worker, which renders with the same render.ts as the rest of the portal.
import { register } from "tsx/esm/api";

register();
await import("./render-worker.ts");
