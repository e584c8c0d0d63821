/**
 * What the browser's bundle may contain: the import graph of every client module ("use client" files of app/ and
 * components/, and everything they import, transitively) must not reach our server code (server/, spawner/,
 * proxy/) nor a server package (Node built-ins, the database drivers, dockerode). This is the guard that stands in
 * for `import "server-only"` on the modules the CLI, the render worker, the proxy and the tests load under plain
 * Node (where the package throws): docs/security.md, « Code serveur et code client ». Used by
 * client-imports.test.ts; the same rule is in eslint.config.mjs (carnet/no-server-import-in-client) for the editor.
 *
 * Type-only imports are erased by TypeScript and never reach the bundle: they are allowed. "use server" modules
 * are the edge: a client module that imports one gets references to its actions, not its code, so the walk stops
 * there.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

/** Folders of code that must never be bundled for the browser. */
export const SERVER_DIRS = ["server", "spawner", "proxy"];
/** Packages that only run on the server (and would carry their secrets or sockets with them). */
export const SERVER_PACKAGES = [/^node:/, /^(fs|child_process|net|crypto|os|path|worker_threads)$/, /^dockerode$/, /^pg$/, /^@electric-sql\/pglite/, /^@prisma\/(client|adapter)/, /^server-only$/];

const EXTS = [".ts", ".tsx", ".js", ".mjs"];

export interface Violation {
  /** The client module the chain starts from, relative to the root. */
  entry: string;
  /** entry -> … -> the offending module or package. */
  chain: string[];
}

function directive(sf: ts.SourceFile): string | null {
  const first = sf.statements[0];
  if (first && ts.isExpressionStatement(first) && ts.isStringLiteral(first.expression)) return first.expression.text;
  return null;
}

/** Module specifiers of the value imports of a file (static, re-exports, dynamic import(), require). */
export function valueImports(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      const typeOnly =
        !!c && (c.isTypeOnly || (!c.name && !!c.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) out.push(n.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      const typeOnly = n.isTypeOnly || (!!n.exportClause && ts.isNamedExports(n.exportClause) && n.exportClause.elements.length > 0 && n.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) out.push(n.moduleSpecifier.text);
    } else if (ts.isCallExpression(n) && n.arguments.length === 1 && ts.isStringLiteral(n.arguments[0]!)) {
      if (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === "require")) out.push(n.arguments[0].text);
    } else if (ts.isImportEqualsDeclaration(n) && !n.isTypeOnly && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteral(n.moduleReference.expression)) {
      out.push(n.moduleReference.expression.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** A local module file for a specifier seen in `from`, or null for a package. "@/x" is the repository root. */
function resolveLocal(root: string, from: string, spec: string): string | null {
  let base: string;
  if (spec.startsWith("@/")) base = path.join(root, spec.slice(2));
  else if (spec.startsWith("./") || spec.startsWith("../")) base = path.resolve(path.dirname(from), spec);
  else return null;
  const candidates = [base, ...EXTS.map((e) => base + e), ...EXTS.map((e) => path.join(base, `index${e}`))];
  for (const c of candidates) if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  return base; // unresolved: reported by its path (a missing file fails the build anyway)
}

/** Every .ts/.tsx file below `dir` whose first statement is "use client". */
export function clientModules(root: string, dirs = ["app", "components"]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|tsx)$/.test(e.name) && !/\.test\.tsx?$/.test(e.name)) {
        const sf = ts.createSourceFile(p, fs.readFileSync(p, "utf8"), ts.ScriptTarget.Latest, false);
        if (directive(sf) === "use client") out.push(p);
      }
    }
  };
  for (const d of dirs) walk(path.join(root, d));
  return out.sort();
}

/**
 * Walks the value-import graph from each client module and returns every chain that reaches server code or a
 * server package (one per offending module and entry, shortest first found). Empty means the bundle is clean.
 */
export function clientImportViolations(root: string, entries = clientModules(root)): Violation[] {
  const rel = (p: string) => path.relative(root, p);
  const isServer = (p: string) => SERVER_DIRS.some((d) => rel(p) === d || rel(p).startsWith(`${d}${path.sep}`));
  const parsed = new Map<string, { imports: string[]; directive: string | null }>();
  const read = (file: string) => {
    let r = parsed.get(file);
    if (!r) {
      const sf = ts.createSourceFile(file, fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "", ts.ScriptTarget.Latest, false);
      r = { imports: valueImports(sf), directive: directive(sf) };
      parsed.set(file, r);
    }
    return r;
  };
  const out: Violation[] = [];
  for (const entry of entries) {
    const seen = new Set<string>([entry]);
    const queue: { file: string; chain: string[] }[] = [{ file: entry, chain: [rel(entry)] }];
    while (queue.length) {
      const { file, chain } = queue.shift()!;
      for (const spec of read(file).imports) {
        const local = resolveLocal(root, file, spec);
        if (!local) {
          if (SERVER_PACKAGES.some((re) => re.test(spec))) out.push({ entry: rel(entry), chain: [...chain, spec] });
          continue;
        }
        if (seen.has(local)) continue;
        seen.add(local);
        if (isServer(local)) {
          out.push({ entry: rel(entry), chain: [...chain, rel(local)] });
          continue;
        }
        if (read(local).directive === "use server") continue; // actions: references only, not bundled
        queue.push({ file: local, chain: [...chain, rel(local)] });
      }
    }
  }
  return out;
}
