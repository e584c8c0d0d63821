/**
 * The browser's bundle never holds server code: from every "use client" module of app/ and components/, the value
 * imports (transitively) never reach server/, spawner/ or proxy/, nor a server package (client-imports.ts). The
 * guard is first shown to catch the attack on a small tree: a client component that imports a harmless-looking
 * helper which imports the database module, a dynamic import, a re-export; and to let through what is fine (type
 * imports, server actions).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { clientImportViolations, clientModules } from "./client-imports";

const root = path.resolve(import.meta.dirname, "../..");

describe("security: client modules never import server code", () => {
  const fixture = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-client-imports-"));
  afterAll(() => fs.rmSync(fixture, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(fixture, rel)), { recursive: true });
    fs.writeFileSync(path.join(fixture, rel), text);
  };

  it("catches a client component that reaches the database through a helper, a re-export or import(); allows types and actions", () => {
    write("server/db/index.ts", `export const db = () => "secret";\n`);
    write("server/errors.ts", `export class AppError extends Error {}\n`);
    write("spawner/docker.ts", `export const x = 1;\n`);
    write("components/util/format.ts", `import { db } from "@/server/db";\nexport const f = () => db();\n`);
    write("components/util/reexport.ts", `export { x } from "../../spawner/docker";\n`);
    write("components/A.tsx", `"use client";\nimport { f } from "./util/format";\nexport default function A() { return f(); }\n`);
    write("components/B.tsx", `"use client";\nexport * from "./util/reexport";\n`);
    write("components/C.tsx", `"use client";\nexport const load = () => import("@/server/errors");\nimport fs from "node:fs";\n`);
    // Fine: type-only imports, a server action module, a server component (no "use client").
    write("components/actions.ts", `"use server";\nimport { db } from "@/server/db";\nexport async function act() { return db(); }\n`);
    write("components/Ok.tsx", `"use client";\nimport type { AppError } from "@/server/errors";\nimport { type AppError as E2 } from "@/server/errors";\nimport { act } from "./actions";\nexport const ok = (e: AppError | E2) => act();\n`);
    write("components/Server.tsx", `import { db } from "@/server/db";\nexport const s = db;\n`);

    expect(clientModules(fixture).map((f) => path.relative(fixture, f))).toEqual(["components/A.tsx", "components/B.tsx", "components/C.tsx", "components/Ok.tsx"]);
    const chains = clientImportViolations(fixture).map((v) => v.chain.join(" -> ")).sort();
    expect(chains).toEqual([
      "components/A.tsx -> components/util/format.ts -> server/db/index.ts",
      "components/B.tsx -> components/util/reexport.ts -> spawner/docker.ts",
      "components/C.tsx -> node:fs",
      "components/C.tsx -> server/errors.ts",
    ]);
  });

  it("the portal's own client modules reach no server code and no server package", () => {
    const entries = clientModules(root);
    expect(entries.length).toBeGreaterThanOrEqual(20); // the walk found the client components (30 today)
    const chains = clientImportViolations(root, entries).map((v) => v.chain.join(" -> "));
    expect(chains, "server code in the browser's bundle").toEqual([]);
  });
});
