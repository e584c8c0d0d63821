// Lint run by `./carnet test`: typed rules that catch what tsc does not (a forgotten await loses errors and
// ordering: no-floating-promises, no-misused-promises). Kept small on purpose; tsc --noEmit does the rest.
import path from "node:path";
import tseslint from "typescript-eslint";

// A "use client" module must not import our server code (server/, spawner/, proxy/) for its values: it would be
// bundled for the browser. Type-only imports are fine. The same rule, transitively over the whole import graph,
// is server/security/client-imports.test.ts (docs/security.md, « Code serveur et code client »).
const SERVER_DIRS = ["server", "spawner", "proxy"];
const noServerImportInClient = {
  meta: { type: "problem", messages: { server: "A \"use client\" module must not import server code ({{source}}): it would ship to the browser. Import types only, or call a server action." } },
  create(context) {
    const body = context.sourceCode.ast.body;
    const first = body[0];
    if (!(first && first.type === "ExpressionStatement" && first.directive === "use client")) return {};
    const root = import.meta.dirname;
    const isServer = (source) => {
      let rel;
      if (source.startsWith("@/")) rel = source.slice(2);
      else if (source.startsWith(".")) rel = path.relative(root, path.resolve(path.dirname(context.filename), source));
      else return false;
      return SERVER_DIRS.some((d) => rel === d || rel.startsWith(`${d}/`));
    };
    const check = (node, source, typeOnly) => {
      if (!typeOnly && typeof source === "string" && isServer(source)) context.report({ node, messageId: "server", data: { source } });
    };
    return {
      ImportDeclaration: (n) => check(n, n.source.value, n.importKind === "type" || (n.specifiers.length > 0 && n.specifiers.every((x) => x.importKind === "type"))),
      ExportNamedDeclaration: (n) => n.source && check(n, n.source.value, n.exportKind === "type"),
      ExportAllDeclaration: (n) => check(n, n.source.value, n.exportKind === "type"),
      ImportExpression: (n) => n.source.type === "Literal" && check(n, n.source.value, false),
    };
  },
};

export default tseslint.config(
  {
    ignores: ["node_modules/**", ".next/**", ".next-*/**", "server/generated/**", ".cache/**", "data/**", "**/*.js", "**/*.mjs", "**/*.cjs"],
  },
  {
    files: ["**/*.ts", "**/*.tsx"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin, carnet: { rules: { "no-server-import-in-client": noServerImportInClient } } },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { attributes: false } }],
      "@typescript-eslint/await-thenable": "error",
      "carnet/no-server-import-in-client": "error",
    },
  },
);
